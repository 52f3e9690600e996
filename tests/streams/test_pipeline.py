"""The worker's batch logic against a real Redis: every event in, the right records out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.registry import feature_set_hash
from features.replay import read_log, replay_orders
from models.inference import ScoringModel
from models.policy import Policy, SpikeAlert
from returnrisk.settings import TopicSettings
from schemas import Alert, DeadLetter, Offer, RiskScore
from schemas.outputs import AlertType
from streams.decisions import OutputRecord, score_id
from streams.model_source import PromotedModel
from streams.pipeline import InputRecord, ScoringPipeline
from streams.segment_rates import SegmentRates
from tests.fixtures.models import TrainedRegistry

pytestmark = pytest.mark.integration

TOPICS = TopicSettings()
CONFIG = FeatureConfig()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BAD_RECORDS = [
    b"{not json",
    b'{"event_type": "order_placed", "event_id": "x"}',
    json.dumps({"event_type": "teleport", "event_id": "y"}).encode(),
    b"\xff\xfe\x00",
]


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisFeatureStore]:
    client = redis.Redis.from_url(redis_url)
    prefix = f"rr:test:{uuid.uuid4().hex[:8]}"
    yield RedisFeatureStore(client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.unlink(key)


def records_of(log_lines: list[bytes]) -> list[InputRecord]:
    """The log as the worker would consume it, with bad records mixed in."""
    records = []
    for offset, line in enumerate(log_lines):
        event = json.loads(line)
        topic = TOPICS.for_event_type(event["event_type"])
        records.append(InputRecord(topic, 0, offset, event["customer_id"].encode(), line))
        if offset % 997 == 0 and offset // 997 < len(BAD_RECORDS):
            bad = BAD_RECORDS[offset // 997]
            records.append(InputRecord(TOPICS.orders, 1, offset, b"k", bad))
    return records


def run(
    pipeline: ScoringPipeline, records: list[InputRecord], size: int = 250
) -> list[OutputRecord]:
    out: list[OutputRecord] = []
    for start in range(0, len(records), size):
        out.extend(pipeline.handle(records[start : start + size]).records)
    return out


def test_every_order_and_return_request_scored_once_and_equal_to_offline(
    trained_registry: TrainedRegistry, store: RedisFeatureStore
) -> None:
    registry = trained_registry.registry
    model = ScoringModel.load(registry.path(trained_registry.versions[0]))
    lines = trained_registry.log.read_bytes().splitlines()
    pipeline = ScoringPipeline(store, lambda: model, TOPICS, CONFIG, now=lambda: NOW)
    outputs = run(pipeline, records_of(lines))

    scores = [RiskScore.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.scores]
    letters = [DeadLetter.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.dlq]
    events, _ = read_log(trained_registry.log)
    scored_types = {"order_placed", "return_requested"}
    expected = {e.event_id for e in events if e.event_type in scored_types}
    assert len(scores) == len(expected)
    assert {s.source_event_id for s in scores} == expected
    assert len({s.score_id for s in scores}) == len(scores)
    assert all(s.score_id == score_id(s.source_event_id, model.version) for s in scores)
    assert all(s.reasons and s.model_version == model.version for s in scores)
    returns = [s for s in scores if s.source_event_type == "return_requested"]
    assert returns and all(s.recommended_resolution is not None for s in returns)

    alerts = [Alert.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.alerts]
    offers = [Offer.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.offers]
    assert {a.alert_type for a in alerts} >= {
        AlertType.HIGH_RISK_ORDER,
        AlertType.SUSPECTED_WARDROBING,
    }
    assert len({a.alert_id for a in alerts}) == len(alerts)
    assert_cooldowns_hold(alerts)
    assert len({o.offer_type for o in offers}) >= 3
    assert len({o.offer_id for o in offers}) == len(offers)

    assert sorted(letter.original_bytes() for letter in letters) == sorted(BAD_RECORDS)
    assert all(letter.error and letter.step == "scorer" for letter in letters)

    offline = list(replay_orders(events, CONFIG))
    offline_scores = model.score_many([v for _, v, _ in offline], [a for _, _, a in offline])
    by_event = {
        o.event_id: s.probability for (o, _, _), s in zip(offline, offline_scores, strict=True)
    }
    for online in scores:
        if online.source_event_type == "order_placed":
            assert online.probability == pytest.approx(by_event[online.source_event_id], abs=1e-9)


def assert_cooldowns_hold(alerts: list[Alert]) -> None:
    """No customer gets two alerts of one type within that type's cooldown (event time)."""
    cooldown_h = {
        AlertType.HIGH_RISK_ORDER: 24,
        AlertType.SERIAL_RETURNER: 720,
        AlertType.SUSPECTED_WARDROBING: 168,
    }
    last: dict[tuple[str | None, AlertType], float] = {}
    for alert in sorted(alerts, key=lambda a: a.occurred_at):
        key = (alert.customer_id, alert.alert_type)
        at = alert.occurred_at.timestamp()
        if key in last:
            assert at - last[key] >= cooldown_h[alert.alert_type] * 3600
        last[key] = at


def test_a_promotion_switches_the_model_at_the_next_batch(
    trained_registry: TrainedRegistry, store: RedisFeatureStore, tmp_path
) -> None:
    registry = trained_registry.registry
    first, second = trained_registry.versions
    source = PromotedModel(registry, feature_set_hash=feature_set_hash(CONFIG), poll_s=0.0)
    assert source.current().version == first
    pipeline = ScoringPipeline(store, source.current, TOPICS, CONFIG, now=lambda: NOW)
    records = records_of(trained_registry.log.read_bytes().splitlines())
    half = len(records) // 2
    before = run(pipeline, records[:half])
    registry.promote(second)
    try:
        after = run(pipeline, records[half:])
    finally:
        registry.rollback()
    versions_before = {
        RiskScore.model_validate_json(r.value).model_version
        for r in before
        if r.topic == TOPICS.scores
    }
    versions_after = {
        RiskScore.model_validate_json(r.value).model_version
        for r in after
        if r.topic == TOPICS.scores
    }
    assert versions_before == {first}
    assert versions_after == {second}


def _spike_alerts(outputs: list[OutputRecord]) -> list[Alert]:
    alerts = [Alert.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.alerts]
    return [a for a in alerts if a.alert_type is AlertType.SEGMENT_RETURN_SPIKE]


def test_segment_return_spikes_are_measured_against_the_training_rate(
    trained_registry: TrainedRegistry, store: RedisFeatureStore, redis_url: str
) -> None:
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    records = records_of(trained_registry.log.read_bytes().splitlines())
    loaded = Policy.load()
    alerts = loaded.config.alerts.model_copy(
        update={"segment_return_spike": SpikeAlert(cooldown_hours=24, margin=0.1, min_orders=20)}
    )
    policy = Policy(loaded.config.model_copy(update={"alerts": alerts}), "test policy")
    client = redis.Redis.from_url(redis_url)
    prefix = f"rr:test:{uuid.uuid4().hex[:8]}"

    def spikes_with_training_rate(rate: float, run_name: str) -> list[Alert]:
        for info in model.manifest["segments"].values():
            info["train_positives"] = rate * info["train_rows"]
        pipeline = ScoringPipeline(
            RedisFeatureStore(client, prefix=f"{prefix}:{run_name}:f"),
            lambda: model,
            TOPICS,
            CONFIG,
            policy=policy,
            now=lambda: NOW,
            segment_rates=SegmentRates(client, f"{prefix}:{run_name}:s", window_days=7),
        )
        return _spike_alerts(run(pipeline, records))

    try:
        assert spikes_with_training_rate(1.0, "high") == []  # no rate exceeds 100 % + margin
        spikes = spikes_with_training_rate(0.0, "zero")
        assert spikes and all(a.customer_id is None for a in spikes)
        assert all(a.details["orders"] >= 20 and a.details["rate"] > 0.1 for a in spikes)
        per_day = {(a.segment, a.occurred_at) for a in spikes}
        assert len(per_day) == len(spikes)  # at most one per segment and cooldown (a day)
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.unlink(key)
