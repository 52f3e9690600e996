"""The backtest decides as the worker does: same offers, holdouts, expected values and
resolutions on the same log (the worker here runs its batch logic against a real Redis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from backtest.replay import decide_log
from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.replay import read_log
from models.inference import ScoringModel
from policy.rules import Policy
from streams.alignment import Alignment, ConsumerOffsets
from streams.held import HeldEvents
from streams.micro_batch import ConsumerProgress, InputRecord, ScoringPipeline
from streams.settings import TopicSettings
from tests.fixtures.models import TrainedRegistry

pytestmark = pytest.mark.integration

TOPICS = TopicSettings()
CAUGHT_UP = ConsumerProgress(0, ConsumerOffsets({(topic, 0): 0 for topic in TOPICS.inputs}, {}))
PROCESSING_TIME = {"scored_at", "emitted_at"}
"""Wall-clock fields: the only ones that may differ between the worker and a replay."""


def _decisions(values: list[bytes]) -> dict[str, dict[str, Any]]:
    records = [json.loads(value) for value in values]
    key = {"risk_score": "score_id", "offer": "offer_id"}
    return {
        record[key[record["event_type"]]]: {
            k: v for k, v in record.items() if k not in PROCESSING_TIME
        }
        for record in records
    }


def test_the_backtest_decides_exactly_as_the_worker(
    trained_registry: TrainedRegistry, redis_url: str, prefix: str
) -> None:
    model = ScoringModel.load(trained_registry.registry.path(trained_registry.versions[0]))
    policy = Policy.load()
    client = redis.Redis.from_url(redis_url)
    worker = ScoringPipeline(
        RedisFeatureStore(client, prefix=prefix, cache_customers=1_000),
        lambda: model,
        TOPICS,
        FeatureConfig(),
        HeldEvents(client, prefix=prefix),
        Alignment(TOPICS.inputs),
        policy=policy,
        now=lambda: datetime.now(UTC),
    )
    records = []
    for offset, line in enumerate(trained_registry.log.read_bytes().splitlines()):
        event = json.loads(line)
        topic = TOPICS.for_event_type(event["event_type"])
        records.append(InputRecord(topic, 0, offset, event["customer_id"].encode(), line))
    emitted = []
    for start in range(0, len(records), 300):  # batches unlike the backtest's
        batch = worker.handle(records[start : start + 300], CAUGHT_UP).records
        emitted.extend(r.value for r in batch if r.topic in (TOPICS.scores, TOPICS.offers))

    events, _ = read_log(trained_registry.log)
    since = min(event.occurred_at for event in events)
    replayed = decide_log(events, model, policy, since)
    backtest = _decisions([json.dumps(d).encode() for d in replayed.scores + replayed.offers])
    streamed = _decisions(emitted)

    offers = [d for d in streamed.values() if d["event_type"] == "offer"]
    assert len(offers) >= 50, "the log must make offers for the comparison to mean anything"
    assert any(o["held_out"] for o in offers) and any(not o["held_out"] for o in offers)
    assert any(o["runner_up"] for o in offers)  # a rule chose among options by value
    requests = [d for d in streamed.values() if d.get("return_id")]
    assert {r["recommended_resolution"] for r in requests} >= {"instant_store_credit"}
    assert backtest.keys() == streamed.keys()
    different = [k for k in streamed if streamed[k] != backtest[k]]
    assert not different, (streamed[different[0]], backtest[different[0]])
