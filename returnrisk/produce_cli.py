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
                "Send malformed lines too (to their event type's topic when readable, else to "
                "orders), to exercise the stream's dead-letter path."
            ),
            envvar="RETURNRISK_PRODUCE_INCLUDE_INVALID",
        ),
    ] = False,
) -> None:
    """Send an event log to the input topics, each event keyed by its customer_id.

    Every line is validated against the event contracts first. A file without a single valid
    event (empty, garbage, a CSV) is refused with one line and exit code 2 before anything is
    sent. A malformed line is reported with its line number and field, counted, and not sent;
    the command then exits 1. With --include-invalid malformed lines are sent as well,
    reported as sent-invalid, and the exit code is 0. The original bytes of each line are
    sent, and everything is flushed before exit.
    Topics come from RETURNRISK_TOPIC_*, the broker from RETURNRISK_KAFKA_BOOTSTRAP_SERVERS.
    """
    from aiokafka.errors import KafkaError

    from features.replay import require_an_event
    from producer.send import ProduceError, produce_file

    if not include_invalid:
        require_an_event(events)  # empty, garbage or another kind: refused before connecting
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
