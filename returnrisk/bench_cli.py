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
            help="How long to offer load to the worker for the latency percentiles.",
        ),
    ] = 10.0,
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
    full worker with a freshly trained and promoted model. Prints events/s of each, c/a and
    c/b, latency p50/p95/p99 of (c) at half its throughput, Redis round trips per event and
    Redis bytes per customer. Figures are reported, never judged: re-measure to compare."""
    from bench.config import BenchConfig
    from bench.runner import run_bench
    from devstack.settings import DevSettings
    from devstack.stack import up
    from streams.settings import kafka_settings, redis_settings

    logging.basicConfig(level=logging.WARNING)
    config = BenchConfig(events=events, customers=customers, latency_seconds=latency_seconds)
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
        report = asyncio.run(
            run_bench(config, kafka, redis_conf.url.get_secret_value(), work, progress)
        )
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
