"""One bench run from start to cleanup: data, topics, (a), (b), (c), Redis figures, latency.

The infrastructure must already answer (the CLI starts it as `dev up` does; tests use their
session broker and Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from bench import phases, redis_stats, topics, worker_metrics
from bench.config import BenchConfig
from bench.data import MeasuredLog, TailLog, simulate_measured, simulate_tail, train_and_promote
from bench.latency import Matcher, percentiles
from bench.report import BenchReport, LatencyPhase
from bench.topic_reader import read_topic
from producer.report import ProduceReport
from producer.send import produce_file_async
from streams.settings import KafkaSettings, RedisSettings, TopicSettings

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
_MONITOR_S = 5.0
"""How often the latency phase scrapes the worker for its backlog (and shows progress)."""
_SCORED_MARGIN = 1.01
"""The tail holds 1 % more scored-type events than `latency_scores` needs (see `_latency`)."""


def latency_design(config: BenchConfig) -> str:
    """How the latency phase is run, in one sentence (the CLI's help and the report's notes)."""
    return (
        f"latency phase: the warm worker of (c) is offered a fresh simulated log at a fixed "
        f"rate of {config.load_share:.0%} of (c)'s measured events/s, for at least "
        f"{config.latency_seconds:g} s and until events that give at least "
        f"{config.latency_scores:,} scores (orders and return requests, ~9 % of events) are "
        "sent; each score is timed from its input's send to its own"
    )


async def run_bench(
    config: BenchConfig,
    kafka: KafkaSettings,
    redis_conf: RedisSettings,
    work_dir: Path,
    progress: Progress,
    registry: Path | None = None,
) -> BenchReport:
    """Measure (a), (b) and (c) over one simulated log; clean up topics and keys after."""
    report = BenchReport(config.events, config.customers, config.workers)
    progress(f"simulating {config.events:,} events")
    log = simulate_measured(
        work_dir, config.events, config.horizon_events, config.customers, config.seed
    )
    if registry is None:
        progress("training and promoting a model on the measured log")
        registry = train_and_promote(log.path, work_dir / "registry", work_dir)
    bench_topics = config.topics()
    client = redis_conf.connect()
    try:
        await topics.create(kafka, config)
        progress(f"producing {config.events:,} events to {', '.join(bench_topics.inputs)}")
        await _produce(log.path, kafka, bench_topics, 0.0, config.events)
        progress("(a) bare aiokafka forward loop")
        report.bare_aiokafka = await phases.bare_aiokafka(config, kafka, bench_topics)
        progress(f"    {report.bare_aiokafka.events_per_s:,.0f} events/s")
        progress("(b) faust take() forwarder (child process)")
        report.faust_forward = await phases.faust_forward(config, kafka, bench_topics, work_dir)
        progress(f"    {report.faust_forward.events_per_s:,.0f} events/s")
        await _worker_phases(
            config,
            kafka,
            bench_topics,
            redis_conf,
            client,
            registry,
            work_dir,
            log,
            report,
            progress,
        )
    finally:
        progress("cleaning up: topics and Redis keys of this run")
        if not await topics.delete(kafka, config):
            report.notes.append("bench topics could not be deleted")
        redis_stats.delete_keys(client, config.redis_prefix)
        client.close()
    report.notes.append(latency_design(config))
    report.notes.append(
        "tansu keeps deleted topics' records in memory until it restarts "
        "(`returnrisk dev down && returnrisk dev up`)"
    )
    return report


async def _worker_phases(
    config: BenchConfig,
    kafka: KafkaSettings,
    bench_topics: TopicSettings,
    redis_conf: RedisSettings,
    client: redis.Redis | RedisCluster,
    registry: Path,
    work_dir: Path,
    log: MeasuredLog,
    report: BenchReport,
    progress: Progress,
) -> None:
    processes = "child process" if config.workers == 1 else f"{config.workers} child processes"
    progress(f"(c) full pipeline: `returnrisk worker` ({processes}, one group)")
    worker = phases.Worker(config, kafka, bench_topics, redis_conf, registry, work_dir)
    try:
        timed, report.scores = await phases.pipeline(config, kafka, bench_topics, worker, progress)
        report.pipeline, report.cpu_us_per_event = timed.throughput(), timed.cpu_us_per_event()
        progress(f"    {report.pipeline.events_per_s:,.0f} events/s, {report.scores:,} scores")
        trips = worker_metrics.redis_round_trips(await worker.metrics())
        report.redis_round_trips_per_event = trips / config.events
        stats = redis_stats.key_stats(client, config.redis_prefix)
        report.redis_bytes_per_customer = stats.mean_bytes
        report.redis_customer_keys = stats.keys
        rate = report.pipeline.events_per_s * config.load_share
        tail = _tail(config, log, rate, report.scores, work_dir, progress)
        report.latency = await _latency(config, kafka, bench_topics, worker, tail, rate, progress)
    finally:
        worker.stop()


def _tail(
    config: BenchConfig,
    log: MeasuredLog,
    rate: float,
    scores: int,
    work_dir: Path,
    progress: Progress,
) -> TailLog:
    """Simulate the latency phase's log, long enough at the rate (c) has just measured.

    It must last `latency_seconds` at the offered rate, and hold enough orders and return
    requests for `latency_scores` scores: as many as the share of them (c) scored says (all,
    when every one is scored), plus 1 %.
    """
    if rate <= 0:
        raise RuntimeError("latency: (c) has no throughput to derive the offered load from")
    scored_share = min(1.0, scores / log.scored_types) if log.scored_types else 0.0
    if scored_share <= 0:
        raise RuntimeError("latency: (c) emitted no score, so no number of events would do")
    min_events = max(1, math.ceil(rate * config.latency_seconds))
    min_scored = math.ceil(config.latency_scores / scored_share * _SCORED_MARGIN)
    progress(
        f"simulating the latency phase's log: >= {min_events:,} events with >= "
        f"{min_scored:,} orders and return requests (child process)"
    )
    return simulate_tail(work_dir, log, min_events, min_scored, config.seed + 1, work_dir)


async def _latency(
    config: BenchConfig,
    kafka: KafkaSettings,
    bench_topics: TopicSettings,
    worker: phases.Worker,
    tail: TailLog,
    rate: float,
    progress: Progress,
) -> LatencyPhase:
    """Offer the tail at `rate` to the warm worker; time each score from its input's send."""
    progress(
        f"latency: offering {tail.events:,} events ({tail.scored_types:,} orders and return "
        f"requests) at {rate:,.0f} events/s, about {tail.events / rate:,.0f} s"
    )
    read_before = worker_metrics.records_read(await worker.metrics())
    sending = _Sending(tail.events)
    since_ms = int(time.time() * 1000)
    monitor = asyncio.create_task(_monitor(worker, sending, read_before, progress))
    try:
        sent = await _produce(
            tail.path, kafka, bench_topics, rate, tail.events, on_progress=sending.update
        )
        sent_at = time.time()
        backlog_at_end = tail.events - (
            worker_metrics.records_read(await worker.metrics()) - read_before
        )
    finally:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
    if tail.ran_short:
        progress("latency: the simulated log ran short of the wanted size; offered all of it")
    timed = await worker.wait_consumed(
        config.events + tail.events, 60 + tail.events / rate, progress
    )
    matcher = Matcher(since_ms)
    for topic in (bench_topics.orders, bench_topics.returns):
        await read_topic(kafka, topic, visit=matcher.add_input)
    await read_topic(kafka, bench_topics.scores, visit=matcher.add_score)
    found = percentiles(matcher.latencies_ms)
    return LatencyPhase(
        load_share=config.load_share,
        offered_rate=rate,
        min_seconds=config.latency_seconds,
        min_scores=config.latency_scores,
        events_sent=sent.delivered,
        scored_type_events_sent=tail.scored_types,
        sent_seconds=sent.elapsed_s,
        scores=found.count,
        scores_span_s=matcher.scores_span_s,
        p50_ms=found.p50_ms,
        p95_ms=found.p95_ms,
        p99_ms=found.p99_ms,
        max_ms=found.max_ms,
        backlog_max=max(sending.backlog_max, backlog_at_end),
        backlog_at_end=backlog_at_end,
        drain_s=max(0.0, timed.done_at - sent_at),
        tail_customers=tail.customers,
        tail_days=tail.days,
        tail_start=date.isoformat(tail.start),
    )


class _Sending:
    """What the producer has sent so far (from its progress reports), and the worst backlog."""

    def __init__(self, total: int) -> None:
        self.total, self.sent, self.backlog_max = total, 0, 0

    def update(self, report: ProduceReport) -> None:
        self.sent = report.lines_read


async def _monitor(
    worker: phases.Worker, sending: _Sending, read_before: int, progress: Progress
) -> None:
    """Every few seconds: the worker's backlog (events sent, not yet read); progress now and
    then. A scrape costs the worker little at this pace."""
    shown = time.monotonic()
    while True:
        await asyncio.sleep(_MONITOR_S)
        read = worker_metrics.records_read(await worker.metrics()) - read_before
        backlog = max(0, sending.sent - read)
        sending.backlog_max = max(sending.backlog_max, backlog)
        if time.monotonic() - shown >= 30:
            progress(
                f"  latency: {sending.sent:,} of {sending.total:,} events sent, "
                f"worker backlog {backlog:,}"
            )
            shown = time.monotonic()


async def _produce(
    path: Path,
    kafka: KafkaSettings,
    bench_topics: TopicSettings,
    rate: float,
    expected: int,
    on_progress: Callable[[ProduceReport], None] | None = None,
) -> ProduceReport:
    """Send `path` at `rate` (0: as fast as the broker takes it); the producer's report."""
    # Records wait at most 5 ms in the producer (aiokafka's own linger), not the bulk loader's
    # 50 ms: the latency measured is the worker's, from when a record is sent.
    sent = await produce_file_async(
        path, kafka, bench_topics, rate, on_progress, max_batch_age_s=0.005
    )
    if sent.delivered != expected:
        raise RuntimeError(
            f"produce: {sent.delivered} of {expected} events delivered "
            f"({len(sent.malformed)} malformed, {sent.failed} failed: {sent.first_failure})"
        )
    return sent
