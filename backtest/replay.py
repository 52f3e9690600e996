"""A policy decided over an event log by the worker's own code.

The log is cut into batches in event-time order and each batch goes through
`features.batch.process_batch` with the worker's `streams.decisions.Decider`, on an in-memory
feature store: the same state updates, feature vectors, scores and policy decisions as the
stream makes (the stream's vectors equal the offline ones, features/parity.py), so what a
policy would have done is read, not re-implemented. Only decisions on events from `since`
on are kept; the events before warm up the customers' features and their offer caps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from features.batch import process_batch
from features.config import FeatureConfig
from features.redelivery import RowMemory
from features.store import MemoryFeatureStore
from models.inference import ScoringModel
from policy.rules import Policy
from schemas import InputEvent
from streams.decisions import Decided, Decider
from streams.settings import TopicSettings

BATCH_SIZE = 2000
"""Events per batch: large enough that the model scores in vectors, small enough that a
batch's customers rarely meet twice (which is still correct, only slower)."""
_TOPICS = TopicSettings()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The decisions' processing clock: fixed, so two runs write the same records."""
NO_REDELIVERY = RowMemory(keep_s=0.0)
"""A replay delivers every event once: no scored row needs remembering for a redelivery (the
worker keeps them for minutes of processing time, which a replay would spend in seconds)."""


@dataclass(slots=True)
class Decisions:
    """What a policy decided from `since` on: the records the worker would have emitted."""

    scores: list[dict[str, object]] = field(default_factory=list)
    """Risk scores of orders and return requests (with the recommended resolution)."""
    offers: list[dict[str, object]] = field(default_factory=list)
    """Offers made, and those recorded for held-out customers (`held_out`)."""


def decide_log(
    events: Sequence[InputEvent],
    model: ScoringModel,
    policy: Policy,
    since: datetime,
    config: FeatureConfig | None = None,
    on_batch: Callable[[int], None] = lambda done: None,
) -> Decisions:
    """Replay `events` (in any order; they are sorted by event time) and collect the decisions
    on events at or after `since`."""
    config = config or FeatureConfig()
    ordered = sorted(events, key=lambda event: event.occurred_at)
    store = MemoryFeatureStore(grace_days=config.grace_days, live=True)
    decide = Decider(model, policy, _TOPICS, now=lambda: EPOCH, memory=NO_REDELIVERY)
    decisions = Decisions()
    for start in range(0, len(ordered), BATCH_SIZE):
        batch = ordered[start : start + BATCH_SIZE]
        result = process_batch(store, batch, config, decide=decide, memory=NO_REDELIVERY)
        for position, decided in sorted(result.decisions.items()):
            if batch[position].occurred_at >= since:
                _collect(decided, decisions)
        on_batch(len(batch))
    return decisions


def _collect(decided: Decided, into: Decisions) -> None:
    for record in decided.records:
        if record.topic == _TOPICS.scores:
            into.scores.append(orjson.loads(record.value))
        elif record.topic == _TOPICS.offers:
            into.offers.append(orjson.loads(record.value))
