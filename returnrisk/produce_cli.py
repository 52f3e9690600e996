"""`returnrisk produce`: send an event log to the input topics, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from returnrisk.cli_errors import RUNTIME, CliError
from streams.settings import kafka_settings, topic_settings

if TYPE_CHECKING:  # imported lazily: validation models load only when `produce` runs
    from producer.lines import MalformedLine
    from producer.report import ProduceReport

# Diagnostics and the progress bar go to stderr, the summary to stdout.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def produce(
    events: Annotated[
        Path,
        typer.Option(
            "--events",
            "-e",
            help="JSON Lines event log, one event per line (as `returnrisk simulate` writes).",
            exists=True,
            dir_okay=False,
            readable=True,
            envvar="RETURNRISK_PRODUCE_EVENTS",
        ),
    ],
    rate: Annotated[
        float,
        typer.Option(
            "--rate",
            "-r",
            min=0,
            help="At most this many events per second; 0 sends as fast as the broker takes them.",
            envvar="RETURNRISK_PRODUCE_RATE",
        ),
    ] = 0.0,
    include_invalid: Annotated[
        bool,
        typer.Option(
            "--include-invalid",
            help=(
                "Send malformed lines too instead of refusing the log (to their event type's "
                "topic when readable, else to orders), to exercise the stream's dead-letter "
                "path; each is reported, and the exit code is 0."
            ),
            envvar="RETURNRISK_PRODUCE_INCLUDE_INVALID",
        ),
    ] = False,
) -> None:
    """Send a JSON-lines event log to the input topics, each event keyed by its customer_id.

    The log is checked against the contracts first (`schemas.log_check`, what `returnrisk
    validate` runs): a file without a single valid event (empty, garbage, a CSV) is refused with
    exit code 2, a file with any malformed line with exit code 1 (how many, and to run
    `validate` for the list), both before connecting to the broker. With --include-invalid
    nothing is refused but an empty file: malformed lines are sent as they are, reported with
    their line number and field as sent-invalid, and the exit code is 0. The original bytes of
    each line are sent, and everything is flushed before exit. Topics come from
    RETURNRISK_TOPIC_*, the broker from RETURNRISK_KAFKA_BOOTSTRAP_SERVERS.
    """
    from aiokafka.errors import KafkaError

    from producer.send import ProduceError, produce_file

    if not include_invalid:
        _require_a_valid_log(events)  # before connecting: nothing is sent from a bad log
    lines = _count_lines(events)
    if not lines:
        raise CliError(f"{events}: the file is empty; nothing to send")
    topics = topic_settings()
    with _progress() as progress:
        task = progress.add_task("producing", total=lines)
        try:
            report = produce_file(
                events,
                kafka_settings(),
                topics,
                rate,
                lambda r: progress.update(task, completed=r.lines_read),
                include_invalid=include_invalid,
                on_malformed=lambda bad: _print_malformed(progress.console, bad),
            )
        except (ProduceError, KafkaError, OSError) as exc:
            raise CliError(str(exc), RUNTIME) from None
    _print_summary(report, [*topics.inputs], include_invalid)
    if report.failed or (report.malformed and not include_invalid):
        raise typer.Exit(1)


def _require_a_valid_log(events: Path) -> None:
    """Refuse a log without events (exit 2) or with a malformed line (exit 1)."""
    from schemas.log_check import check_log

    try:
        checked = check_log(events, keep=0)
    except OSError as exc:
        raise CliError(f"{events}: cannot be read: {exc.strerror or exc}") from None
    expected = "expected a JSON-lines event log, as `returnrisk simulate` writes"
    if not checked.events and not checked.bad:
        raise CliError(f"{events}: no event in it (the file is empty); {expected}")
    if not checked.events:
        raise CliError(
            f"{events}: none of its {checked.bad:,} lines is a valid event "
            f"({checked.first_bad}); {expected}"
        )
    if checked.bad:
        lines = "line is" if checked.bad == 1 else "lines are"
        raise CliError(
            f"{events}: {checked.bad:,} of {checked.lines - checked.blank:,} {lines} not valid "
            f"events, nothing was sent; run returnrisk validate --events {events} for the list",
            RUNTIME,
        )


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} lines/s" if task.speed else "")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )


def _count_lines(path: Path) -> int:
    """Lines in the file, for the progress total: a fast byte count, no parsing."""
    total, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            total += chunk.count(b"\n")
            last = chunk[-1:]
    return total + (last != b"\n")


def _print_malformed(out: Console, bad: MalformedLine) -> None:
    out.print(str(bad), markup=False, soft_wrap=True)


def _print_summary(report: ProduceReport, inputs: list[str], include_invalid: bool) -> None:
    table = Table("topic", Column("sent", justify="right"), Column("sent-invalid", justify="right"))
    for topic in dict.fromkeys([*inputs, *report.sent, *report.sent_invalid]):
        table.add_row(topic, f"{report.sent[topic]:,}", f"{report.sent_invalid[topic]:,}")
    table.add_row("total", f"{report.sent.total():,}", f"{report.sent_invalid.total():,}")
    console.print(table)
    fate = "sent as invalid" if include_invalid else "not sent"
    console.print(f"malformed lines: {len(report.malformed):,} ({fate})")
    if report.blank_lines:
        console.print(f"blank lines skipped: {report.blank_lines:,}")
    if report.failed:
        console.print(
            f"failed to send: {report.failed:,} (first: {report.first_failure})", soft_wrap=True
        )
    speed = report.delivered / report.elapsed_s if report.elapsed_s else 0.0
    console.print(
        f"{report.delivered:,} records in {report.elapsed_s:.2f} s ({speed:,.0f} events/s)"
    )
