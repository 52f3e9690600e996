"""The three measured runs over the same input topics, each timed from its output topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import worker_metrics
from bench.bare_loop import forward
from bench.config import BenchConfig
from bench.errors import BenchError
from bench.processes import ChildProcess, free_port, python_command
from bench.report import CpuPerEvent, Throughput
from bench.topic_reader import read_topic
from streams.settings import KafkaSettings, RedisSettings, TopicSettings, settings_env

Progress = Callable[[str], None]
_POLL_FIRST_S = 0.05
"""Scrape often until the first events are seen (that moment starts the clock)..."""
_POLL_S = 0.5
"""...then rarely: each scrape costs the worker CPU, and the end comes from its gauge."""


@dataclass(frozen=True, slots=True)
class Timed:
    """Two scrapes of the worker's count of records read, with their wall-clock times and the
    CPU seconds its processes (faust's, the pipeline's) had used by then."""

    first_at: float
    first_count: int
    done_at: float
    done_count: int
    first_cpu: tuple[float, float]
    done_cpu: tuple[float, float]

    def throughput(self) -> Throughput:
        return Throughput(self.done_count - self.first_count, self.done_at - self.first_at)

    def cpu_us_per_event(self) -> CpuPerEvent:
        events = max(1, self.done_count - self.first_count)
        faust, pipeline = (
            (done - first) * 1e6 / events
            for first, done in zip(self.first_cpu, self.done_cpu, strict=True)
        )
        return CpuPerEvent(faust=faust, pipeline=pipeline)


async def bare_aiokafka(
    config: BenchConfig, kafka: KafkaSettings, topics: TopicSettings
) -> Throughput:
    """(a): forward in this process, then time the forwarded records."""
    target = config.forward_topic("a")
    await forward(kafka, topics.inputs, target, config.group("a"), config.events, config.batch_size)
    read = await read_topic(kafka, target, expected=config.events)
    return Throughput(read.count, read.span_s)


async def faust_forward(
    config: BenchConfig, kafka: KafkaSettings, topics: TopicSettings, work_dir: Path
) -> Throughput:
    """(b): the faust forwarder as a child process; time its output topic once complete."""
    target = config.forward_topic("b")
    child = ChildProcess(
        "faust-forward",
        python_command("bench.faust_forward"),
        faust_forward_env(config, kafka, topics),
        work_dir,
    )
    try:
        reading = asyncio.create_task(
            read_topic(kafka, target, expected=config.events, timeout_s=_timeout(config))
        )
        while not reading.done():
            child.check_alive()
            await asyncio.wait({reading}, timeout=1.0)
        read = reading.result()
    finally:
        await asyncio.to_thread(child.stop)
    return Throughput(read.count, read.span_s)


def faust_forward_env(
    config: BenchConfig, kafka: KafkaSettings, topics: TopicSettings
) -> dict[str, str]:
    """(b)'s settings: every Kafka setting (SASL and TLS too) and what to forward where."""
    return {
        **settings_env(kafka),
        "RETURNRISK_BENCH_SOURCES": ",".join(topics.inputs),
        "RETURNRISK_BENCH_TARGET": config.forward_topic("b"),
        "RETURNRISK_BENCH_APP_ID": config.group("b"),
        "RETURNRISK_BENCH_BATCH_SIZE": str(config.batch_size),
    }


def worker_env(
    config: BenchConfig,
    kafka: KafkaSettings,
    topics: TopicSettings,
    redis: RedisSettings,
    registry: Path,
    metrics_port: int,
) -> dict[str, str]:
    """(c)'s settings: every Kafka and Redis setting (passwords, SASL, TLS), the bench's topics,
    group, keys and /metrics port."""
    return {
        **settings_env(kafka),
        **settings_env(redis),
        **settings_env(topics),
        "RETURNRISK_KAFKA_PARTITIONS": str(config.partitions),
        "RETURNRISK_REGISTRY_DIR": str(registry.resolve()),
        "RETURNRISK_WORKER_APP_ID": config.group("c"),
        "RETURNRISK_WORKER_REDIS_KEY_PREFIX": config.redis_prefix,
        "RETURNRISK_WORKER_METRICS_PORT": str(metrics_port),
        "RETURNRISK_WORKER_BATCH_SIZE": str(config.batch_size),
    }


class Worker:
    """(c): `config.workers` processes of `returnrisk worker` in one consumer group, with their
    own keys and /metrics ports, measured as one."""

    def __init__(
        self,
        config: BenchConfig,
        kafka: KafkaSettings,
        topics: TopicSettings,
        redis: RedisSettings,
        registry: Path,
        work_dir: Path,
    ) -> None:
        self.ports = [free_port() for _ in range(config.workers)]
        argv = python_command("returnrisk", "worker", "--loglevel", "warn")
        self.children = [
            ChildProcess(
                f"worker-{n}" if n else "worker",
                argv,
                worker_env(config, kafka, topics, redis, registry, port),
                work_dir,
            )
            for n, port in enumerate(self.ports)
        ]
        self._read_before = 0

    async def metrics(self) -> worker_metrics.Samples:
        each = await asyncio.gather(
            *(asyncio.to_thread(worker_metrics.scrape, port) for port in self.ports)
        )
        return worker_metrics.combined(list(each))

    def check_alive(self) -> None:
        for child in self.children:
            child.check_alive()

    async def wait_consumed(self, target: int, timeout_s: float, progress: Progress) -> Timed:
        """Until `returnrisk_events_total` reaches `target` and the last batch is produced.

        Timed from the first scrape that sees records read (not from start-up) to the last
        batch's end (`returnrisk_last_batch_timestamp_seconds`, set once its outputs are sent),
        over the records read in between: reading counts, not applying, because events held
        back for event-time alignment are applied in later, larger batches.
        """
        loop = asyncio.get_running_loop()
        deadline, shown = loop.time() + timeout_s, 0.0
        first: tuple[float, int, tuple[float, float]] | None = None
        while True:
            self.check_alive()
            samples = await self.metrics()
            read = worker_metrics.records_read(samples)
            if first is None and read > self._read_before:
                first = (time.time(), read, worker_metrics.cpu_seconds(samples))
            consumed = worker_metrics.events_consumed(samples)
            if consumed >= target:
                break
            if loop.time() > deadline:
                raise BenchError(
                    f"the worker consumed {consumed:,} of {target:,} events in {timeout_s:.0f} s; "
                    f"see the logs, {', '.join(str(c.log) for c in self.children)}"
                )
            if loop.time() - shown > 5:
                progress(f"  worker: {consumed:,} of {target:,} events")
                shown = loop.time()
            await asyncio.sleep(_POLL_FIRST_S if first is None else _POLL_S)
        # counted in `handle`, before the batch's outputs are produced: wait for the last one
        last = worker_metrics.last_batch_at(samples)
        while True:
            await asyncio.sleep(0.5)
            latest = await self.metrics()
            now = worker_metrics.last_batch_at(latest)
            if now == last:
                break
            last = now
        self._read_before = worker_metrics.records_read(samples)
        assert first is not None  # noqa: S101 - read > before holds at the latest here
        return Timed(
            first_at=first[0],
            first_count=first[1],
            done_at=last,
            done_count=self._read_before,
            first_cpu=first[2],
            done_cpu=worker_metrics.cpu_seconds(latest),
        )

    def stop(self) -> None:
        for child in self.children:
            child.stop()


async def pipeline(
    config: BenchConfig,
    kafka: KafkaSettings,
    topics: TopicSettings,
    worker: Worker,
    progress: Progress,
) -> tuple[Timed, int]:
    """(c): wait until the worker consumed every event; count its score records."""
    timed = await worker.wait_consumed(config.events, _timeout(config) + 60, progress)
    read = await read_topic(kafka, topics.scores)
    return timed, read.count


def _timeout(config: BenchConfig) -> float:
    """Generous: 30 s of start-up plus 1,000 events/s."""
    return 30.0 + config.events / 1_000
