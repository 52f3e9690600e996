"""`returnrisk bench`: throughput of (a) bare aiokafka, (b) faust, (c) the worker, and more."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bench.errors import BenchError
from devstack.errors import DevError

console = Console()


def bench(
    events: Annotated[
        int,
        typer.Option(min=500, envvar="RETURNRISK_BENCH_EVENTS", help="Events each run consumes."),
    ] = 100_000,
    customers: Annotated[
        int,
        typer.Option(min=10, envvar="RETURNRISK_BENCH_CUSTOMERS", help="Simulated customers."),
    ] = 3_000,
    latency_seconds: Annotated[
        float,
        typer.Option(
            min=1.0,
            envvar="RETURNRISK_BENCH_LATENCY_SECONDS",
            help="The latency phase offers events for at least this long...",
        ),
    ] = 60.0,
    latency_scores: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="RETURNRISK_BENCH_LATENCY_SCORES",
            help=(
                "...and until it has offered events that give at least this many scores "
                "(about 1 event in 11 is scored: at 5,000 events/s, 100,000 scores take ~4 min)."
            ),
        ),
    ] = 100_000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=4,
            envvar="RETURNRISK_BENCH_WORKERS",
            help="Worker processes in (c) and the latency phase, one consumer group "
            "(the topics have 4 partitions).",
        ),
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", envvar="RETURNRISK_BENCH_OUT", help="Write the figures as JSON."),
    ] = None,
    keep_work_dir: Annotated[
        bool, typer.Option(help="Keep the scratch folder (logs of the child processes).")
    ] = False,
) -> None:
    """Measure the throughput and latency of bare aiokafka, faust and the full worker.

    Runs on the local broker and Redis (started as `returnrisk dev up` does if they do
    not answer), over one simulated log produced once to fresh topics: (a) a bare aiokafka
    consume-and-forward loop, (b) a faust agent forwarding raw `stream.take` batches, (c) the
    full worker with a freshly trained and promoted model (--workers of them in one group).
    Prints events/s of each, c/a and c/b, the CPU per event of the worker's faust and
    pipeline processes, Redis round trips per event and Redis bytes per customer after (c).

    Then the sustained-latency phase: the warm worker of (c) is offered a second simulated
    log (orders, returns, touches and profile updates in their natural mix), produced at a
    fixed rate of half (c)'s measured events/s, for max(--latency-seconds, the time to offer
    events that give --latency-scores scores). Each score is timed from its input's send to
    its own (Kafka CreateTimes). Prints the offered and the achieved rate (events sent/s,
    scores/s), the duration, the scores measured, p50/p95/p99/max, and whether the worker
    kept up (its backlog, and how long it took to finish after the last send).

    Restart the broker first (`returnrisk dev down && returnrisk dev up`): tansu keeps every
    record in memory and slows as it grows. Figures are reported, never judged: re-measure
    to compare."""
    from bench.config import BenchConfig
    from bench.runner import run_bench
    from devstack.settings import DevSettings
    from devstack.stack import up
    from streams.settings import kafka_settings, redis_settings

    logging.basicConfig(level=logging.WARNING)
    config = BenchConfig(
        events=events,
        customers=customers,
        latency_seconds=latency_seconds,
        latency_scores=latency_scores,
        workers=workers,
    )
    kafka, redis_conf = kafka_settings(), redis_settings()
    try:
        up(kafka, config.topics(), redis_conf, DevSettings(), config.partitions)
    except DevError as exc:
        console.print(f"[red]bench: cannot start the local broker and Redis: {exc}[/]")
        raise typer.Exit(2) from None
    started = time.monotonic()

    def progress(message: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:6.1f} s[/] {message}")

    work = Path(tempfile.mkdtemp(prefix="returnrisk-bench-"))
    keep = keep_work_dir
    try:
        report = asyncio.run(run_bench(config, kafka, redis_conf, work, progress))
    except BenchError as exc:
        keep = True  # its logs say what went wrong
        console.print(f"[red]bench failed: {exc}[/]")
        raise typer.Exit(1) from None
    finally:
        if keep:
            console.print(f"scratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    console.print(report.table())
    for note in report.notes:
        console.print(f"note: {note}")
    if out is not None:
        report.write_json(out)
        console.print(f"figures written to {out}")
