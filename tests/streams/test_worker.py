"""The worker end to end: a real tansu broker, a real Redis, `returnrisk worker` as a process."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis

from features.codec import encode_state
from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.replay import read_log, replay_orders
from features.state import CustomerState, apply_event
from models.inference import ScoringModel
from producer.send import produce_file
from schemas import DeadLetter, RiskScore
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.topics import read_until
from tests.fixtures.worker import WorkerProcess

pytestmark = pytest.mark.integration

BAD_LINES = [
    '{"event_type": "order_placed", "event_id": "broken-1"',
    '{"event_type": "order_placed", "event_id": "broken-2", "customer_id": "c"}',
    '{"event_type": "refund_issued", "event_id": "broken-3", "customer_id": "c"}',
]


def _expected_sources(log: Path) -> set[str]:
    events, _ = read_log(log)
    return {e.event_id for e in events if e.event_type in ("order_placed", "return_requested")}


def _produce(log: Path, kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(BAD_LINES) + "\n")
    produce_file(bad, kafka, topics, include_invalid=True)
    produce_file(log, kafka, topics)


def _scores_and_letters(
    worker: WorkerProcess,
    kafka: KafkaSettings,
    topics: TopicSettings,
    expected: set[str],
    timeout_s: float,
    dead_letters: int = len(BAD_LINES),
) -> tuple[list[RiskScore], list[DeadLetter]]:
    def done(values: dict[str, list[bytes]]) -> bool:
        worker.check_alive()
        sources = {json.loads(v)["source_event_id"] for v in values[topics.scores]}
        return sources >= expected and len(values[topics.dlq]) >= dead_letters

    values = read_until(kafka, [topics.scores, topics.dlq], done, timeout_s)
    scores = [RiskScore.model_validate_json(v) for v in values[topics.scores]]
    letters = [DeadLetter.model_validate_json(v) for v in values[topics.dlq]]
    return scores, letters


def test_worker_scores_every_event_once_dead_letters_the_bad_exports_metrics_and_stops(
    worker: WorkerProcess,
    worker_env: dict[str, str],
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    worker.start()
    _produce(trained_registry.log, kafka_settings, fresh_topics, tmp_path)
    expected = _expected_sources(trained_registry.log)
    scores, letters = _scores_and_letters(worker, kafka_settings, fresh_topics, expected, 180)
    assert {s.source_event_id for s in scores} == expected, worker.log.read_text()[-3000:]
    assert len(scores) == len({s.score_id for s in scores}) == len(expected)
    assert sorted(letter.original_bytes().decode() for letter in letters) == sorted(BAD_LINES)
    assert all(letter.error for letter in letters)

    port = worker_env["RETURNRISK_WORKER_METRICS_PORT"]
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()  # noqa: S310
    for series in (
        "returnrisk_events_total",
        "returnrisk_dead_letters_total",
        "returnrisk_batch_size_bucket",
        "returnrisk_end_to_end_latency_seconds_bucket",
        "returnrisk_batch_processing_seconds_bucket",
        "returnrisk_pipeline_batch_seconds_bucket",
        "returnrisk_redis_round_trip_seconds_bucket",
        "returnrisk_scores_total",
        "returnrisk_model_info",
    ):
        assert series in page, series
    for process in ("returnrisk_gc_pause_seconds", "returnrisk_pipeline_gc_pause_seconds"):
        # each process collects once before freezing its start-up objects, and is watched
        full = re.search(rf'^{process}_count{{generation="2"}} (\S+)$', page, re.MULTILINE)
        assert full and float(full[1]) >= 1, process
    worker.terminate_cleanly()


def test_a_backlog_is_scored_exactly_as_offline(
    worker: WorkerProcess,
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    """The whole log waits on the four topics before the worker starts, so faust reads them at
    very different event-time speeds; alignment must still score every order on exactly the
    features the offline replay gives it."""
    _produce(trained_registry.log, kafka_settings, fresh_topics, tmp_path)
    worker.start()
    expected = _expected_sources(trained_registry.log)
    scores, _ = _scores_and_letters(worker, kafka_settings, fresh_topics, expected, 240)
    assert len({s.score_id for s in scores}) == len(expected)

    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    events, _ = read_log(trained_registry.log)
    offline = list(replay_orders(events, FeatureConfig()))
    offline_scores = model.score_many([v for _, v, _ in offline], [a for _, _, a in offline])
    by_event = {o.event_id: s for (o, _, _), s in zip(offline, offline_scores, strict=True)}
    orders = [s for s in scores if s.source_event_type == "order_placed"]
    assert len(orders) == len(by_event)
    differing = [
        s.source_event_id
        for s in orders
        if abs(s.probability - by_event[s.source_event_id].probability) > 1e-9
        or s.segment != by_event[s.source_event_id].segment
    ]
    assert differing == [], f"{len(differing)} of {len(orders)} orders differ from offline"


def test_a_worker_killed_mid_stream_loses_nothing_and_double_counts_nothing(
    worker: WorkerProcess,
    worker_env: dict[str, str],
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    trained_registry: TrainedRegistry,
    redis_url: str,
    tmp_path: Path,
) -> None:
    expected = _expected_sources(trained_registry.log)
    worker.start()
    _produce(trained_registry.log, kafka_settings, fresh_topics, tmp_path)
    read_until(
        kafka_settings,
        [fresh_topics.scores],
        lambda values: len(values[fresh_topics.scores]) >= len(expected) // 4,
        timeout_s=120,
    )
    assert worker.process is not None
    children = psutil.Process(worker.process.pid).children()
    assert children, "the pipeline runs in a child process"
    worker.kill()
    _, orphans = psutil.wait_procs(children, timeout=15)
    assert orphans == [], "the pipeline's process outlived its killed worker"
    worker.start()
    scores, _ = _scores_and_letters(worker, kafka_settings, fresh_topics, expected, 180)
    assert {s.source_event_id for s in scores} == expected
    # A redelivered batch repeats its scores under the same ids. Same inputs, same score; the
    # inputs differ only when an earlier event (from another topic) arrived in between.
    first: dict[tuple[str, str], float] = {}
    for score in scores:
        seen = first.setdefault((score.score_id, score.feature_hash), score.probability)
        assert seen == pytest.approx(score.probability, abs=1e-9)

    events, _ = read_log(trained_registry.log)
    offline: dict[str, CustomerState] = {}
    config = FeatureConfig()
    for event in events:
        apply_event(offline.setdefault(event.customer_id, CustomerState()), event, config)
    store = RedisFeatureStore(
        redis.Redis.from_url(redis_url), prefix=worker_env["RETURNRISK_WORKER_REDIS_KEY_PREFIX"]
    )
    deadline = time.monotonic() + 120  # the worker may still be reading campaign touches
    while True:
        worker.check_alive()
        online = store.load(offline)
        differing = [
            c for c in offline if encode_state(online[c].state) != encode_state(offline[c])
        ]
        if not differing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert differing == []


def test_a_version_promoted_mid_stream_scores_what_follows_and_loses_nothing(
    worker: WorkerProcess,
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    registry = trained_registry.registry
    first, second = trained_registry.versions
    lines = trained_registry.log.read_bytes().splitlines(keepends=True)
    halves = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    halves[0].write_bytes(b"".join(lines[: len(lines) // 2]))
    halves[1].write_bytes(b"".join(lines[len(lines) // 2 :]))
    expected = _expected_sources(trained_registry.log)
    first_half = _expected_sources(halves[0])
    worker.start()
    produce_file(halves[0], kafka_settings, fresh_topics)
    read_until(
        kafka_settings,
        [fresh_topics.scores],
        lambda values: (
            {json.loads(v)["source_event_id"] for v in values[fresh_topics.scores]} >= first_half
        ),
        timeout_s=120,
    )
    registry.promote(second)
    try:
        time.sleep(3)  # the worker polls the pointer every 2 s (RETURNRISK_WORKER_MODEL_POLL_S)
        produce_file(halves[1], kafka_settings, fresh_topics)
        scores, _ = _scores_and_letters(worker, kafka_settings, fresh_topics, expected, 180, 0)
    finally:
        registry.rollback()
    assert {s.source_event_id for s in scores} == expected
    version_of = {s.source_event_id: s.model_version for s in scores}
    assert {version_of[e] for e in first_half} == {first}
    assert {version_of[e] for e in expected - first_half} == {second}
