"""The worker's batch logic against a real Redis: every event in, the right records out."""

from __future__ import annotations

import itertools
import json
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import prometheus_client
import pytest
import redis

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.registry import feature_set_hash
from features.replay import read_log, replay_orders
from features.store import CatalogDeltas, Stored
from features.vector import feature_values
from models.inference import ScoringModel
from policy.rules import Policy, SpikeAlert
from schemas import Alert, DeadLetter, InputEvent, Offer, RiskScore
from schemas.codec import encode_event
from schemas.outputs import AlertType
from streams import metrics
from streams.alignment import Alignment, ConsumerOffsets
from streams.decisions import OutputRecord, score_id, vector_hash
from streams.held import HeldEvents
from streams.micro_batch import BatchOutput, ConsumerProgress, InputRecord, ScoringPipeline
from streams.model_source import PromotedModel
from streams.segment_rates import SegmentRates
from streams.settings import TopicSettings
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.typed_events import at, order, return_request, touch

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


def make_pipeline(
    redis_url: str,
    prefix: str,
    model: Callable[[], ScoringModel],
    now: datetime = NOW,
    **options: Any,
) -> ScoringPipeline:
    client = redis.Redis.from_url(redis_url)
    return ScoringPipeline(
        RedisFeatureStore(client, prefix=prefix, cache_customers=1_000),
        model,
        TOPICS,
        CONFIG,
        HeldEvents(client, prefix=prefix),
        Alignment(TOPICS.inputs),
        now=lambda: now,
        **options,
    )


CAUGHT_UP = ConsumerProgress(0, ConsumerOffsets({(topic, 0): 0 for topic in TOPICS.inputs}, {}))
"""Every input topic partition read to its end: nothing to wait for, every event is due."""


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
        out.extend(pipeline.handle(records[start : start + size], CAUGHT_UP).records)
    return out


def test_every_order_and_return_request_scored_once_and_equal_to_offline(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    registry = trained_registry.registry
    model = ScoringModel.load(registry.path(trained_registry.versions[0]))
    lines = trained_registry.log.read_bytes().splitlines()
    pipeline = make_pipeline(redis_url, prefix, lambda: model)
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
    by_event = {o.event_id: s for (o, _, _), s in zip(offline, offline_scores, strict=True)}
    orders = [online for online in scores if online.source_event_type == "order_placed"]
    assert len(orders) == len(offline)
    for online in orders:
        offline_score = by_event[online.source_event_id]
        assert online.probability == pytest.approx(offline_score.probability, abs=1e-9)
        assert online.reasons == list(offline_score.reasons)


def partitioned(lines: list[bytes], partitions: int) -> dict[tuple[str, int], list[InputRecord]]:
    """The log as the producer lays it out: by topic and customer partition, offsets from 0."""
    laid_out: dict[tuple[str, int], list[InputRecord]] = {}
    for line in lines:
        event = json.loads(line)
        topic = TOPICS.for_event_type(event["event_type"])
        partition = zlib.crc32(event["customer_id"].encode()) % partitions
        records = laid_out.setdefault((topic, partition), [])
        records.append(InputRecord(topic, partition, len(records), b"", line))
    return laid_out


def batch_of(tp: tuple[str, int], batch: list[InputRecord]) -> list[InputRecord]:
    return [r for r in batch if (r.topic, r.partition) == tp]


def order_scores(outputs: list[OutputRecord]) -> dict[str, float]:
    scores = [RiskScore.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.scores]
    orders = [s for s in scores if s.source_event_type == "order_placed"]
    return {s.source_event_id: s.probability for s in orders}


def test_a_backlog_read_at_uneven_speeds_is_scored_as_offline_across_a_restart(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    """Topics are read at uneven speeds (as faust does on a backlog): what is read ahead of its
    partition's watermark is held back, survives a restart in Redis, is released a bounded
    number at a time, and every order scores as offline. Each batch is settled only after the
    next one is handled, as the worker's flow does (streams/flow.py): a released event is not
    released again while its outputs are being delivered."""
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    laid_out = partitioned(trained_registry.log.read_bytes().splitlines(), partitions=2)
    highwaters = {tp: len(records) for tp, records in laid_out.items()}
    speed = {
        TOPICS.orders: 120,
        TOPICS.returns: 40,
        TOPICS.campaign_touches: 60,
        TOPICS.customers: 200,
    }
    read = dict.fromkeys(laid_out, 0)
    starts = dict(read)  # where the consumer group starts: committed offsets at assignment
    pipeline = make_pipeline(redis_url, prefix, lambda: model, release_limit=300)
    outputs: list[OutputRecord] = []
    held_seen = 0
    unsettled: BatchOutput | None = None
    scored_by_worker: list[list[str]] = [[], []]
    for round_ in itertools.count():
        batch = []
        for tp, records in laid_out.items():
            batch.extend(records[read[tp] : read[tp] + speed[tp[0]]])
            read[tp] = min(read[tp] + speed[tp[0]], len(records))
        if round_ == 20:  # a restart: a new worker, a new generation, held events in Redis
            pipeline = make_pipeline(redis_url, prefix, lambda: model, release_limit=300)
            starts = {tp: read[tp] - len(batch_of(tp, batch)) for tp in laid_out}
            unsettled = None  # the killed worker's last batch was never delivered
        offsets = ConsumerOffsets(highwaters, starts)
        output = pipeline.handle(batch, ConsumerProgress(round_ >= 20, offsets))
        if unsettled is not None:
            pipeline.settle(unsettled.released)
        unsettled = output
        outputs.extend(output.records)
        scored_by_worker[round_ >= 20].extend(order_scores(output.records))
        held_seen = max(held_seen, int(metrics.HELD._value.get()))
        if not batch and not output.records and not pipeline.waiting(round_ >= 20):
            break
    assert held_seen > 100  # the uneven speeds did hold events back
    for scored in scored_by_worker:  # a restart may repeat a score; one worker never does
        assert len(scored) == len(set(scored))

    events, _ = read_log(trained_registry.log)
    offline = list(replay_orders(events, CONFIG))
    expected = model.score_many([v for _, v, _ in offline], [a for _, _, a in offline])
    online = order_scores(outputs)
    assert online.keys() == {o.event_id for o, _, _ in offline}
    differing = [
        order.event_id
        for (order, _, _), score in zip(offline, expected, strict=True)
        if abs(online[order.event_id] - score.probability) > 1e-9
    ]
    assert differing == [], f"{len(differing)} of {len(offline)} orders differ"


def test_an_unread_partition_holds_orders_back_until_it_has_nothing_to_deliver(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    lines = trained_registry.log.read_bytes().splitlines()
    orders = [line for line in lines if b'"order_placed"' in line][:50]
    pipeline = make_pipeline(redis_url, prefix, lambda: model)
    records = [InputRecord(TOPICS.orders, 0, i, b"", line) for i, line in enumerate(orders)]
    others = [topic for topic in TOPICS.inputs if topic != TOPICS.orders]
    highwaters = {(TOPICS.orders, 0): len(orders)} | {(topic, 0): 40 for topic in others}
    backlog = ConsumerOffsets(highwaters, {(topic, 0): 12 for topic in others})
    first = pipeline.handle(records, ConsumerProgress(0, backlog))
    assert order_scores(first.records) == {}  # the other topics may still hold earlier events
    assert order_scores(pipeline.handle([], ConsumerProgress(0, backlog)).records) == {}
    finished = ConsumerOffsets(highwaters, {(topic, 0): 40 for topic in others})
    later = pipeline.handle([], ConsumerProgress(0, finished))
    assert len(order_scores(later.records)) == len(orders)


def test_a_batch_redelivered_after_its_write_repeats_every_record(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    """The worker died after the state write, before the records were produced: the batch
    comes again and must produce the same scores, alerts and offers (same ids), not lose the
    alerts and offers its first pass remembered."""
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    records = records_of(trained_registry.log.read_bytes().splitlines())
    pipeline = make_pipeline(redis_url, prefix, lambda: model)
    run(pipeline, records[:-2000])
    first = pipeline.handle(records[-2000:], CAUGHT_UP).records
    again = pipeline.handle(records[-2000:], CAUGHT_UP).records

    def ids(outputs: list[OutputRecord], topic: str, field: str) -> list[str]:
        return sorted(json.loads(r.value)[field] for r in outputs if r.topic == topic)

    for topic, field in (
        (TOPICS.scores, "score_id"),
        (TOPICS.alerts, "alert_id"),
        (TOPICS.offers, "offer_id"),
    ):
        assert ids(first, topic, field), topic
        assert ids(again, topic, field) == ids(first, topic, field), topic


def test_a_replay_at_another_wall_clock_time_makes_the_same_offers(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    """Offers are made and expire on the event's clock: the same log decided a year later gives
    byte-identical offer records but for `emitted_at`, and no offer expires before it is made."""
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    records = records_of(trained_registry.log.read_bytes().splitlines())
    later = NOW + timedelta(days=400)

    def offers_at(now: datetime, run_name: str) -> list[OutputRecord]:
        pipeline = make_pipeline(redis_url, f"{prefix}:{run_name}", lambda: model, now=now)
        return [r for r in run(pipeline, records) if r.topic == TOPICS.offers]

    first, replay = offers_at(NOW, "first"), offers_at(later, "replay")
    assert len(first) > 100

    def without(clock: datetime, record: OutputRecord) -> OutputRecord:
        stamp = b'"emitted_at":"' + clock.isoformat().replace("+00:00", "Z").encode() + b'"'
        assert stamp in record.value
        return record._replace(value=record.value.replace(stamp, b""))

    assert [without(NOW, r) for r in first] == [without(later, r) for r in replay]
    occurred = {e.event_id: e.occurred_at for e in read_log(trained_registry.log)[0]}
    for record in first:
        offer = Offer.model_validate_json(record.value)
        assert offer.created_at == occurred[offer.source_event_id] < offer.expires_at


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
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    registry = trained_registry.registry
    first, second = trained_registry.versions
    source = PromotedModel(
        registry, feature_set_hash=feature_set_hash(CONFIG), poll_s=0.0, predict_threads=1
    )
    assert source.current().version == first
    pipeline = make_pipeline(redis_url, prefix, source.current)
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
    assert source.current().predict_threads == 1  # the reloaded version scores as configured


def counted(metric: prometheus_client.Counter) -> Counter[tuple[str, ...]]:
    """A Prometheus counter's values, by their label values."""
    return Counter(
        {
            tuple(sample.labels.values()): sample.value
            for family in metric.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        }
    )


def test_a_shadow_version_is_measured_by_segment_and_band_and_never_emitted(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    promoted, shadowed = trained_registry.versions
    model = ScoringModel.load(trained_registry.registry.path(promoted))
    shadow = ScoringModel.load(trained_registry.registry.path(shadowed))
    before = counted(metrics.SHADOW_SCORES)
    pipeline = make_pipeline(redis_url, prefix, lambda: model, shadow=shadow)
    outputs = run(pipeline, records_of(trained_registry.log.read_bytes().splitlines()))
    measured = counted(metrics.SHADOW_SCORES) - before

    scores = [RiskScore.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.scores]
    assert {score.model_version for score in scores} == {promoted}
    assert measured.total() == len(scores)
    events, _ = read_log(trained_registry.log)
    orders = list(replay_orders(events, CONFIG))
    shadow_orders = shadow.score_many([v for _, v, _ in orders], [a for _, _, a in orders])
    expected = Counter((score.segment, score.band.value) for score in shadow_orders)
    assert expected and expected <= measured  # the return requests make up the rest


def _spike_alerts(outputs: list[OutputRecord]) -> list[Alert]:
    alerts = [Alert.model_validate_json(r.value) for r in outputs if r.topic == TOPICS.alerts]
    return [a for a in alerts if a.alert_type is AlertType.SEGMENT_RETURN_SPIKE]


def test_segment_return_spikes_are_measured_against_the_training_rate(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    records = records_of(trained_registry.log.read_bytes().splitlines())
    loaded = Policy.load()
    alerts = loaded.config.alerts.model_copy(
        update={"segment_return_spike": SpikeAlert(cooldown_hours=24, margin=0.1, min_orders=20)}
    )
    policy = Policy(loaded.config.model_copy(update={"alerts": alerts}), "test policy")
    client = redis.Redis.from_url(redis_url)

    def spikes_with_training_rate(rate: float, run_name: str) -> list[Alert]:
        for info in model.manifest["segments"].values():
            info["train_positives"] = rate * info["train_rows"]
        pipeline = make_pipeline(
            redis_url,
            f"{prefix}:{run_name}:f",
            lambda: model,
            policy=policy,
            segment_rates=SegmentRates(client, f"{prefix}:{run_name}:s", window_days=7),
        )
        return _spike_alerts(run(pipeline, records))

    assert spikes_with_training_rate(1.0, "high") == []  # no rate exceeds 100 % + margin
    spikes = spikes_with_training_rate(0.0, "zero")
    assert spikes and all(a.customer_id is None for a in spikes)
    assert all(a.details["orders"] >= 20 and a.details["rate"] > 0.1 for a in spikes)
    per_day = {(a.segment, a.occurred_at) for a in spikes}
    assert len(per_day) == len(spikes)  # at most one per segment and cooldown (a day)


class RacedStore(RedisFeatureStore):
    """A real Redis store whose first write of `customer` loses a race: another worker writes
    that customer between this store's read and its write, once."""

    def __init__(self, client: redis.Redis, prefix: str, customer: str) -> None:
        super().__init__(client, prefix=prefix)
        self._other = RedisFeatureStore(client, prefix=prefix)
        self._customer: str | None = customer

    def save(self, changed: Mapping[str, Stored], deltas: CatalogDeltas | None = None) -> set[str]:
        if self._customer in changed:
            theirs = self._other.load([self._customer])
            assert self._other.save(theirs) == set()
            self._customer = None
        return super().save(changed, deltas)


def emitted_counts() -> dict[str, float]:
    return {
        name: counted(metric).total()
        for name, metric in (
            ("scores", metrics.SCORES),
            ("alerts", metrics.ALERTS),
            ("offers", metrics.OFFERS),
        )
    }


def test_a_customer_decided_again_after_a_lost_write_is_counted_once(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    log = records_of(trained_registry.log.read_bytes().splitlines())
    first = next(i for i, r in enumerate(log) if r.topic == TOPICS.orders and r.partition == 0)
    records = log[: first + 400]
    first_order = json.loads(records[first].value)
    client = redis.Redis.from_url(redis_url)
    pipeline = ScoringPipeline(
        RacedStore(client, prefix, first_order["customer_id"]),
        lambda: model,
        TOPICS,
        CONFIG,
        HeldEvents(client, prefix=prefix),
        Alignment(TOPICS.inputs),
        now=lambda: NOW,
    )
    before, retries = emitted_counts(), metrics.FEATURE_RETRIES._value.get()
    outputs = pipeline.handle(records, CAUGHT_UP).records
    after = emitted_counts()
    assert metrics.FEATURE_RETRIES._value.get() - retries == 1
    emitted = {
        "scores": sum(r.topic == TOPICS.scores for r in outputs),
        "alerts": sum(r.topic == TOPICS.alerts for r in outputs),
        "offers": sum(r.topic == TOPICS.offers for r in outputs),
    }
    assert emitted["scores"] > 0
    assert {name: after[name] - before[name] for name in after} == emitted


def _records(*events: InputEvent) -> list[InputRecord]:
    """Events as one partition's records, as the worker consumes them."""
    return [
        InputRecord(TOPICS.for_event_type(e.event_type), 0, i, b"c1", encode_event(e))
        for i, e in enumerate(events)
    ]


def _score_of(outputs: BatchOutput, event: InputEvent) -> dict[str, Any]:
    """The event's score, but for when it was made."""
    (score,) = [
        json.loads(r.value)
        for r in outputs.records
        if r.topic == TOPICS.scores and json.loads(r.value)["source_event_id"] == event.event_id
    ]
    return {k: v for k, v in score.items() if k != "scored_at"}


def test_a_redelivery_after_a_late_event_of_another_topic_gets_the_first_answer(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    """An earlier campaign touch arrives after the order was scored (topics are ordered only
    per partition): the features take it in, yet the order redelivered to another worker (a
    partition moved before its offset was committed) is scored exactly as the first time."""
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    history = [order(at(1), "o1"), order(at(5), "o5")]
    scored = order(at(10), "o10")
    late_touch = touch(at(10, hours=-2), "email")

    first_worker = make_pipeline(redis_url, prefix, lambda: model)
    first = _score_of(first_worker.handle(_records(*history, scored), CAUGHT_UP), scored)
    first_worker.handle(_records(late_touch), CAUGHT_UP)
    later = NOW + timedelta(hours=1)
    other_worker = make_pipeline(redis_url, prefix, lambda: model, now=later)
    remembered = counted(metrics.REDELIVERED)[("remembered",)]
    again = _score_of(other_worker.handle(_records(scored), CAUGHT_UP), scored)

    assert again == first
    assert counted(metrics.REDELIVERED)[("remembered",)] == remembered + 1
    # Scored from the state as it is now, the order would read the late touch: another answer.
    state = RedisFeatureStore(redis.Redis.from_url(redis_url), prefix=prefix).load(["c1"])
    now_values = feature_values(state["c1"].state, scored, CONFIG)
    assert vector_hash(now_values) != first["feature_hash"]


def test_a_redelivery_too_late_for_the_state_to_recognise_gets_the_first_answer(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    """A backlog's redelivered return request can come after its customer's clock has moved
    past the records kept in full: the state calls it too late, its remembered row still
    answers it."""
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    request = return_request(at(2), "o0", ("sku-1", 1, "size_too_small"))
    pipeline = make_pipeline(redis_url, prefix, lambda: model)
    first = _score_of(pipeline.handle(_records(order(at(0), "o0"), request), CAUGHT_UP), request)
    months_later = [order(at(200), "o200"), return_request(at(205), "o200", ("sku-1", 1, "other"))]
    pipeline.handle(_records(*months_later), CAUGHT_UP)
    assert _score_of(pipeline.handle(_records(request), CAUGHT_UP), request) == first
