"""One bench run from start to cleanup: data, topics, (a), (b), (c), latency, Redis figures.

The infrastructure must already answer (the CLI starts it as `dev up` does; tests use their
session broker and Redis).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import redis

from bench import phases, redis_stats, topics, worker_metrics
from bench.config import BenchConfig
from bench.data import BenchLog, simulate_log, train_and_promote
from bench.latency import latencies_ms, percentiles, sent_at_by_event
from bench.report import BenchReport
from bench.topic_reader import read_topic
from producer.send import produce_file_async
from streams.settings import KafkaSettings, TopicSettings

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


async def run_bench(
    config: BenchConfig,
    kafka: KafkaSettings,
    redis_url: str,
    work_dir: Path,
    progress: Progress,
    registry: Path | None = None,
) -> BenchReport:
    """Measure (a), (b) and (c) over one simulated log; clean up topics and keys after."""
    report = BenchReport(config.events, config.customers)
    progress(f"simulating {config.events:,} + {config.latency_events:,} events")
    log = simulate_log(
        work_dir, config.events, config.latency_events, config.customers, config.seed
    )
    if registry is None:
        progress("training and promoting a model on the measured log")
        registry = train_and_promote(log.measured, work_dir / "registry", work_dir)
    bench_topics = config.topics()
    client = redis.Redis.from_url(redis_url)
    try:
        await topics.create(kafka, config)
        progress(f"producing {config.events:,} events to {', '.join(bench_topics.inputs)}")
        await _produce(log.measured, kafka, bench_topics, 0.0, config.events)
        progress("(a) bare aiokafka forward loop")
        report.bare_aiokafka = await phases.bare_aiokafka(config, kafka, bench_topics)
        progress(f"    {report.bare_aiokafka.events_per_s:,.0f} events/s")
        progress("(b) faust take() forwarder (child process)")
        report.faust_forward = await phases.faust_forward(config, kafka, bench_topics, work_dir)
        progress(f"    {report.faust_forward.events_per_s:,.0f} events/s")
        await _worker_phases(
            config, kafka, bench_topics, redis_url, registry, work_dir, log, report, progress
        )
        stats = redis_stats.key_stats(client, config.redis_prefix)
        report.redis_bytes_per_customer = stats.mean_bytes
        report.redis_customer_keys = stats.keys
    finally:
        progress("cleaning up: topics and Redis keys of this run")
        if not await topics.delete(kafka, config):
            report.notes.append("bench topics could not be deleted")
        redis_stats.delete_keys(client, config.redis_prefix)
        client.close()
    report.notes.append(
        "tansu keeps deleted topics' records in memory until it restarts "
        "(`returnrisk dev down && returnrisk dev up`)"
    )
    return report


async def _worker_phases(
    config: BenchConfig,
    kafka: KafkaSettings,
    bench_topics: TopicSettings,
    redis_url: str,
    registry: Path,
    work_dir: Path,
    log: BenchLog,
    report: BenchReport,
    progress: Progress,
) -> None:
    progress("(c) full pipeline: `returnrisk worker` (child process)")
    worker = phases.Worker(config, kafka, bench_topics, redis_url, registry, work_dir)
    try:
        report.pipeline, report.scores = await phases.pipeline(
            config, kafka, bench_topics, worker, progress
        )
        progress(f"    {report.pipeline.events_per_s:,.0f} events/s, {report.scores:,} scores")
        trips = worker_metrics.redis_round_trips(await worker.metrics())
        report.redis_round_trips_per_event = trips / config.events
        await _latency(config, kafka, bench_topics, worker, log, report, progress)
    finally:
        worker.stop()


async def _latency(
    config: BenchConfig,
    kafka: KafkaSettings,
    bench_topics: TopicSettings,
    worker: phases.Worker,
    log: BenchLog,
    report: BenchReport,
    progress: Progress,
) -> None:
    """Offer the log's tail at `load_share` of (c)'s rate to the warm worker; time each score."""
    if report.pipeline is None:
        raise RuntimeError("latency: (c) has no throughput to derive the offered load from")
    rate = max(1.0, report.pipeline.events_per_s * config.load_share)
    count = min(log.tail_count, max(200, int(rate * config.latency_seconds)))
    lines = log.tail.read_text().splitlines()[:count]
    offered = log.tail.with_name("offered.jsonl")
    offered.write_text("\n".join(lines) + "\n")
    progress(f"latency: offering {count:,} more events at {rate:,.0f} events/s")
    since_ms = int(time.time() * 1000)
    offered_for_s = await _produce(offered, kafka, bench_topics, rate, count)
    await worker.wait_consumed(config.events + count, 60 + count / rate, progress)
    sent: dict[str, int] = {}
    for topic in (bench_topics.orders, bench_topics.returns):
        read = await read_topic(kafka, topic, keep=True)
        sent.update(sent_at_by_event(read.records, since_ms))
    scores = await read_topic(kafka, bench_topics.scores, keep=True)
    found = percentiles(latencies_ms(scores.records, sent))
    report.offered_rate = rate
    report.offered_seconds = offered_for_s
    report.latency = {
        "count": found.count,
        "p50_ms": found.p50_ms,
        "p95_ms": found.p95_ms,
        "p99_ms": found.p99_ms,
        "max_ms": found.max_ms,
    }


async def _produce(
    path: Path, kafka: KafkaSettings, bench_topics: TopicSettings, rate: float, expected: int
) -> float:
    """Send `path` at `rate` (0: as fast as the broker takes it); returns the seconds it took."""
    # Records wait at most 5 ms in the producer (aiokafka's own linger), not the bulk loader's
    # 50 ms: the latency measured is the worker's, from when a record is sent.
    sent = await produce_file_async(path, kafka, bench_topics, rate, max_batch_age_s=0.005)
    if sent.delivered != expected:
        raise RuntimeError(
            f"produce: {sent.delivered} of {expected} events delivered "
            f"({len(sent.malformed)} malformed, {sent.failed} failed: {sent.first_failure})"
        )
    return sent.elapsed_s
