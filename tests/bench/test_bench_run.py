"""`returnrisk bench` end to end on a tiny input: every figure is there and positive, and the
run leaves no Redis keys behind. Performance is reported, never asserted here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from bench.config import BenchConfig
from bench.runner import run_bench
from devstack.topics import existing_topics
from streams.settings import KafkaSettings, RedisSettings
from tests.fixtures.models import TrainedRegistry

pytestmark = pytest.mark.integration


def test_bench_reports_every_figure(
    kafka_settings: KafkaSettings,
    redis_settings: RedisSettings,
    redis_url: str,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    config = BenchConfig(
        events=5_000,
        customers=300,
        latency_seconds=2.0,
        latency_scores=150,
        partitions=kafka_settings.partitions,
        workers=2,
    )
    messages: list[str] = []
    report = asyncio.run(
        run_bench(
            config,
            kafka_settings,
            redis_settings,
            tmp_path,
            messages.append,
            registry=trained_registry.registry.root,
        )
    )

    for run in (report.bare_aiokafka, report.faust_forward):
        assert run is not None and run.events == 5_000 and run.events_per_s > 0
    assert report.pipeline is not None and 0 < report.pipeline.events <= 5_000
    assert report.pipeline.events_per_s > 0
    figures = report.as_dict()
    assert figures["ratio_c_over_a"] > 0 and figures["ratio_c_over_b"] > 0
    assert report.scores > 0
    cpu = report.cpu_us_per_event  # of both workers of one group
    assert cpu is not None and cpu.faust > 0 and cpu.pipeline > 0
    assert figures["workers"] == 2
    phase = report.latency
    assert phase is not None
    assert phase.offered_rate == pytest.approx(report.pipeline.events_per_s * config.load_share)
    # long enough on both counts: the phase's seconds, and events for its scores
    assert phase.events_sent >= phase.offered_rate * config.latency_seconds
    assert phase.scored_type_events_sent >= config.latency_scores
    assert phase.scores >= config.latency_scores
    paced_s = (phase.events_sent - 1) / phase.offered_rate  # the last record's place
    assert paced_s - 0.01 <= phase.sent_seconds < paced_s + 5  # the pacer sends <= 5 ms early
    assert phase.sent_rate == pytest.approx(phase.offered_rate, rel=0.5)
    assert phase.score_rate > 0
    assert 0 <= phase.p50_ms <= phase.p95_ms <= phase.p99_ms <= phase.max_ms
    assert 0 <= phase.backlog_at_end <= phase.backlog_max and phase.drain_s >= 0
    assert figures["latency"]["scores"] == phase.scores
    assert report.redis_round_trips_per_event is not None
    assert report.redis_round_trips_per_event > 0
    assert report.redis_bytes_per_customer is not None and report.redis_bytes_per_customer > 0
    assert 0 < report.redis_customer_keys <= 300
    assert any(m.startswith("(c)") for m in messages)  # progress is shown

    client = redis.Redis.from_url(redis_url)
    assert not list(client.scan_iter(f"{config.redis_prefix}:*"))
    left = asyncio.run(existing_topics(kafka_settings))
    assert not {name for name in left if config.run in name}
