"""`returnrisk features build | parity`: the offline replay and the online/offline check."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.replay import (
    HolidayReturns,
    InvalidLine,
    LabelRule,
    build_training_table,
    read_log,
    write_training_table,
)
from returnrisk.cli_errors import CliError
from schemas import InputEvent
from schemas.common import ReturnType

console = Console(stderr=True)
features_app = typer.Typer(
    help="Per-customer features: offline training sets and online/offline parity.",
    no_args_is_help=True,
)

EventsOption = Annotated[
    Path,
    typer.Option(
        "--events",
        help="JSON-lines event log.",
        exists=True,
        dir_okay=False,
        readable=True,
        envvar="RETURNRISK_EVENTS",
    ),
]


def load_events(path: Path) -> list[InputEvent]:
    """Read a log with a progress bar; report invalid lines (they are skipped, and counted).

    A log without a valid event is refused (`UnusableLog`), before any line is reported."""
    with Progress(
        TextColumn("reading {task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(path.name, total=path.stat().st_size)
        events, invalid = read_log(path, on_line=lambda size: progress.advance(task, size))
    _report_invalid(invalid)
    return events


def _report_invalid(invalid: list[InvalidLine]) -> None:
    for bad in invalid[:20]:
        console.print(f"[yellow]line {bad.line_number}: {bad.error}[/]")
    if invalid:
        console.print(f"[yellow]{len(invalid)} invalid lines skipped[/]")


def _holiday_returns(spec: str) -> HolidayReturns | None:
    if spec.strip().lower() == "none":
        return None
    match = re.fullmatch(r"(\d\d-\d\d)\.\.(\d\d-\d\d)->(\d\d-\d\d)", spec.strip())
    if not match:
        raise typer.BadParameter(
            f"{spec!r} is not START..END->UNTIL (MM-DD) or 'none'", param_hint="'--holiday-returns'"
        )
    return HolidayReturns(*match.groups())


@features_app.command("build")
def build(
    events: EventsOption,
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    label_window_days: Annotated[
        int, typer.Option(help="A return requested within this many days labels the order.", min=1)
    ] = 30,
    label_return_types: Annotated[
        list[ReturnType],
        typer.Option("--label-return-type", help="Return types that count (repeatable)."),
    ] = [ReturnType.COMMERCIAL],  # noqa: B006 - typer reads list defaults this way
    holiday_returns: Annotated[
        str,
        typer.Option(
            help="Extended return window for holiday purchases, START..END->UNTIL as MM-DD "
            "(orders placed START to END may come back until UNTIL), or 'none'.",
        ),
    ] = "11-15..12-24->01-31",
) -> None:
    """Write a point-in-time-correct training set, one row per order with its label.

    Features are as of the order's time, from earlier events only. Orders whose label window
    had not closed by the end of the log are marked `label_complete = false` (training skips
    them)."""
    started = time.perf_counter()
    rule = LabelRule(
        window_days=label_window_days,
        return_types=frozenset(label_return_types),
        holiday=_holiday_returns(holiday_returns),
    )
    log = load_events(events)
    orders_total = sum(1 for e in log if e.event_type == "order_placed")
    if not orders_total:
        raise CliError(f"{events}: none of its {len(log)} events is an order: no row to build")
    with Progress(
        TextColumn("replaying orders"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("orders", total=orders_total)
        table = build_training_table(log, FeatureConfig(), rule, lambda: progress.advance(task))
    write_training_table(table, out)
    complete = table.column("label_complete").to_pylist()
    labels = [y for y, c in zip(table.column("label").to_pylist(), complete, strict=True) if c]
    rate = sum(labels) / len(labels) if labels else float("nan")
    console.print(
        f"{table.num_rows} orders ({len(labels)} with a closed label window, "
        f"label rate {rate:.3f}) -> {out} in {time.perf_counter() - started:.1f} s"
    )


@dataclass(frozen=True)
class MemoryUsage:
    sampled: int
    median: int
    p95: int
    max: int


def _memory_per_customer(
    store: RedisFeatureStore, customers: set[str], sample: int = 2000
) -> MemoryUsage:
    """`MEMORY USAGE` of a sample of customers' keys (exact, not estimated: samples=0)."""
    chosen = sorted(customers)[:: max(1, len(customers) // sample)]
    sizes = sorted(size for c in chosen if (size := store.memory_usage(c)) is not None)
    if not sizes:
        return MemoryUsage(0, 0, 0, 0)
    return MemoryUsage(len(sizes), sizes[len(sizes) // 2], sizes[int(len(sizes) * 0.95)], sizes[-1])


@features_app.command("parity")
def parity(
    events: EventsOption,
    max_lateness_s: Annotated[
        float, typer.Option(help="Deliver each event up to this many seconds late.", min=0)
    ] = 3600.0,
    duplicate_share: Annotated[
        float, typer.Option(help="Share of events delivered twice.", min=0, max=1)
    ] = 0.05,
    batch_size: Annotated[int, typer.Option(help="Events per micro-batch.", min=1)] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the delivery order.")] = 0,
    show: Annotated[int, typer.Option(help="Mismatches to print in detail.")] = 5,
) -> None:
    """Compare the online feature vector of every order with the offline replay's.

    Drives the log through the Redis feature store as a stream would (late, duplicated, in
    micro-batches) and compares every order's online feature vector with the offline replay's.
    Exits 1 on any mismatch."""

    from features.parity import run_parity
    from streams.settings import redis_settings

    settings = redis_settings()
    client = settings.connect()
    prefix = f"rr:parity:{int(time.time() * 1000)}"
    config = FeatureConfig()
    store = RedisFeatureStore(client, prefix=prefix, ttl_seconds=3600, grace_days=config.grace_days)
    log = load_events(events)
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("streaming through Redis"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} events"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("events", total=int(len(log) * (1 + duplicate_share)))
            report = run_parity(
                log,
                store,
                config,
                max_lateness_s=max_lateness_s,
                duplicate_share=duplicate_share,
                batch_size=batch_size,
                seed=seed,
                on_batch=lambda n: progress.advance(task, n),
            )
        memory = _memory_per_customer(store, {e.customer_id for e in log})
    except ValueError as exc:
        raise CliError(str(exc)) from None
    finally:
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.unlink(key)
    elapsed = time.perf_counter() - started
    print(f"events delivered: {report.events_delivered} ({report.duplicates_delivered} duplicates)")
    print(
        f"orders compared: {report.orders_compared} "
        f"({report.compared_after_catch_up} after an earlier event arrived late)"
    )
    print(f"redis round trips: {store.round_trips} for {report.events_delivered} events")
    print(
        f"redis bytes per customer (MEMORY USAGE, {memory.sampled} customers): "
        f"median {memory.median} p95 {memory.p95} max {memory.max}"
    )
    print(f"mismatches: {len(report.mismatches)}")
    for mismatch in report.mismatches[:show]:
        print(f"  order {mismatch.order_id} ({mismatch.when}):")
        for name, (online, offline) in list(mismatch.differences.items())[:10]:
            print(f"    {name}: online={online!r} offline={offline!r}")
    console.print(f"{elapsed:.1f} s")
    if report.mismatches:
        raise typer.Exit(1)
