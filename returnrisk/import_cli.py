"""`returnrisk import`: a retailer's order lines in, the event log every other command reads out."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from returnrisk.cli_errors import RUNTIME, CliError

if TYPE_CHECKING:  # imported lazily: pandas and pyarrow load only when `import` runs
    from ingest.summary import ImportSummary

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_STAGES = {"read": "reading order lines", "build": "building events", "write": "writing events"}


def import_lines(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Order-line tables: CSV, gzip CSV or Parquet (told apart by their content), "
            "read in the order given as one history.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    mapping: Annotated[
        str,
        typer.Option(
            "--mapping",
            "-m",
            envvar="RETURNRISK_IMPORT_MAPPING",
            help="YAML mapping file naming the columns and rules (README: 'Importing order "
            "lines'), or the name of a packaged one: online_retail_ii.",
        ),
    ] = "online_retail_ii",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            dir_okay=False,
            envvar="RETURNRISK_IMPORT_OUT",
            help="JSON-lines event log to write, in time order, as `returnrisk simulate` "
            "writes. Required unless --to-broker (which then sends a temporary log).",
        ),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            dir_okay=False,
            envvar="RETURNRISK_IMPORT_REJECTS",
            help="CSV of rejected rows (file, row, reason, detail). Default: rejects.csv next "
            "to --out (in the working directory with --to-broker alone).",
        ),
    ] = None,
    to_broker: Annotated[
        bool,
        typer.Option(
            "--to-broker",
            envvar="RETURNRISK_IMPORT_TO_BROKER",
            help="Also send the events to the orders and returns topics (as `returnrisk "
            "produce` does; broker and topics from RETURNRISK_KAFKA_* and RETURNRISK_TOPIC_*).",
        ),
    ] = False,
) -> None:
    """Import order lines (CSV, gzip CSV, Parquet) into the event log, or onto the topics.

    One order_placed per order and one return_requested per credit invoice and the order it
    takes back: a credit line is matched to the same customer's most recent earlier order of
    that product. Lines that are not products (postage, fees, adjustments) and lines without
    a customer are excluded and counted; rows that cannot be read, and credits with no
    earlier purchase, go to the rejects file with their row number. The same input gives
    byte-identical output. Prints a summary; a file that cannot be read at all stops the
    import with one line naming it.
    """
    from ingest.mapping import load_mapping
    from ingest.readers import check_file
    from ingest.run import run_import

    if out is None and not to_broker:
        raise CliError("give --out FILE for the event log, or --to-broker to send the events")
    spec = load_mapping(mapping)
    for path in files:
        check_file(path, spec)  # one line naming a bad file, before any progress is drawn
    with tempfile.TemporaryDirectory(prefix="returnrisk-import-") as scratch:
        log = out if out is not None else Path(scratch) / "events.jsonl"
        rejects_path = rejects or (out.with_name("rejects.csv") if out else Path("rejects.csv"))
        with _progress() as progress:
            summary = run_import(files, spec, log, rejects_path, _reporter(progress))
        _print_summary(summary, log if out else None, rejects_path)
        if to_broker:
            _send(log)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,  # no stray blank line before an error in a pipe
    )


def _reporter(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(_STAGES[stage], total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return report


def _print_summary(summary: ImportSummary, log: Path | None, rejects: Path) -> None:
    table = Table(
        title=f"wrote {log}" if log else "imported", show_header=False, title_justify="left"
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_row("rows read", f"{summary.rows_read:,}")
    table.add_row("orders", f"{summary.orders:,} ({summary.order_lines:,} lines)")
    table.add_row(
        "return requests", f"{summary.return_requests:,} ({summary.return_lines:,} lines)"
    )
    table.add_row("customers", f"{summary.customers:,}")
    for reason, count in sorted(summary.excluded.items()):
        table.add_row(f"excluded: {reason}", f"{count:,}")
    for reason, count in sorted(summary.rejected.items()):
        table.add_row(f"rejected: {reason}", f"{count:,}")
    for name, count in sorted(summary.defaulted.items()):
        if count:
            table.add_row(f"default {name} used", f"{count:,}")
    if summary.capped_return_lines:
        table.add_row(
            "return lines capped at the order's units", f"{summary.capped_return_lines:,}"
        )
    table.add_row("seconds", f"{summary.seconds:.1f} ({summary.rows_per_second:,.0f} rows/s)")
    console.print(table)
    console.print(f"rejected rows listed in {rejects}", soft_wrap=True)


def _send(log: Path) -> None:
    from aiokafka.errors import KafkaError

    from producer.send import ProduceError, produce_file
    from streams.settings import kafka_settings, topic_settings

    topics = topic_settings()
    with _progress() as progress:
        task = progress.add_task("sending events", total=sum(1 for _ in log.open("rb")))
        try:
            report = produce_file(
                log,
                kafka_settings(),
                topics,
                on_progress=lambda r: progress.update(task, completed=r.lines_read),
            )
        except (ProduceError, KafkaError, OSError) as exc:
            raise CliError(str(exc), RUNTIME) from None
    sent = ", ".join(f"{topic}: {report.sent[topic]:,}" for topic in report.sent)
    console.print(f"sent {report.sent.total():,} events ({sent})")
    if report.failed:
        raise CliError(
            f"{report.failed:,} events failed to send (first: {report.first_failure})", RUNTIME
        )
