"""A policy decided over an event log by the worker's own code.

The log is cut into batches in event-time order and each batch goes through
`features.batch.process_batch` on an in-memory feature store, then through the worker's
`streams.decisions.Decider`: the same state updates, feature vectors, scores and policy
decisions as the stream makes (the stream's vectors equal the offline ones,
features/parity.py), so what a policy would have done is read, not re-implemented. Only
decisions on events from `since` on are kept; the events before warm up the customers'
features and their offer caps.

The two halves run side by side on two cores: this process keeps the features and hands each
batch's rows to a second process that scores and decides. The decisions remember only the
customers' `Memo` (alerts, offers, caps), which the deciding process keeps; in the worker it is
written with the features, in the same compare-and-set, which a replay (one delivery, no
other writer) does not need.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import orjson

from features.batch import BatchResult, ScoringRow, process_batch
from features.config import FeatureConfig
from features.redelivery import RowMemory
from features.registry import FEATURE_NAMES
from features.state import CustomerState
from features.store import MemoryFeatureStore, Stored
from features.vector import Value
from models.inference import ScoringModel
from policy.rules import Policy
from schemas import InputEvent, OrderPlaced, ReturnReceived, ReturnRequested
from streams.decisions import Decider
from streams.settings import TopicSettings

BATCH_SIZE = 2000
"""Events per batch: large enough that the model scores in vectors, small enough that a
batch's customers rarely meet twice (which is still correct, only slower)."""
AHEAD = 4
"""Batches handed to the deciding process before waiting for the first one's decisions."""
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

    def add(self, records: list[tuple[bool, bytes]]) -> None:
        """Records as the deciding process sends them: (is an offer, JSON)."""
        for is_offer, value in records:
            (self.offers if is_offer else self.scores).append(orjson.loads(value))


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
    decisions = Decisions()
    deciding = ProcessPoolExecutor(
        1,
        # forked: the events, model and policy are the child's without being copied through
        # a pipe; each batch sends only its rows' values
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_deciding,
        initargs=(ordered, model, policy, since),
    )
    with deciding:
        waiting: deque[Future[list[tuple[bool, bytes]]]] = deque()
        for start in range(0, len(ordered), BATCH_SIZE):
            batch = ordered[start : start + BATCH_SIZE]
            result: BatchResult[object] = process_batch(store, batch, config, memory=NO_REDELIVERY)
            rows = [
                (r.position, tuple(r.values.values()), r.attributes, r.duplicate, r.remembered)
                for r in result.rows
            ]
            receipts = [i for i, e in enumerate(batch) if isinstance(e, ReturnReceived)]
            waiting.append(deciding.submit(_decide, start, rows, receipts))
            while len(waiting) > AHEAD:
                decisions.add(waiting.popleft().result())
            on_batch(len(batch))
        while waiting:
            decisions.add(waiting.popleft().result())
    return decisions


@dataclass(slots=True)
class _Deciding:
    """The deciding process's events, decider and customers' memories."""

    events: Sequence[InputEvent]
    decide: Decider
    since: datetime
    memos: dict[str, Stored] = field(default_factory=dict)


_deciding: list[_Deciding] = []
_NO_STATE = CustomerState()
"""The decisions read only a customer's memo; the features stay in the replaying process."""
_Row = tuple[int, tuple[Value, ...], dict[str, str | bool | int | float], bool, bool]
"""A `ScoringRow` without its event (the deciding process has the events): position, feature
values in `FEATURE_NAMES` order, attributes, duplicate, remembered."""


def _start_deciding(
    events: Sequence[InputEvent], model: ScoringModel, policy: Policy, since: datetime
) -> None:
    decide = Decider(model, policy, _TOPICS, now=lambda: EPOCH, memory=NO_REDELIVERY)
    _deciding.append(_Deciding(events, decide, since))


def _decide(start: int, rows: list[_Row], receipt_positions: list[int]) -> list[tuple[bool, bytes]]:
    """One batch's decisions, as `process_batch` would have asked for them: the scores and
    offers on events from `since` on, as (is an offer, JSON) (bytes cross a pipe cheaply)."""
    deciding = _deciding[0]
    batch = deciding.events[start : start + BATCH_SIZE]
    scoring = [
        ScoringRow(
            position,
            cast(OrderPlaced | ReturnRequested, batch[position]),
            dict(zip(FEATURE_NAMES, values, strict=True)),
            attributes,
            duplicate,
            remembered,
        )
        for position, values, attributes, duplicate, remembered in rows
    ]
    receipts = [(i, cast(ReturnReceived, batch[i])) for i in receipt_positions]
    customers = {e.customer_id for e in batch}
    states = {c: deciding.memos.setdefault(c, Stored(_NO_STATE, 0)) for c in customers}
    decided = deciding.decide(scoring, receipts, states)
    return [
        (record.topic == _TOPICS.offers, record.value)
        for position in sorted(decided)
        if batch[position].occurred_at >= deciding.since
        for record in decided[position].records
        if record.topic in (_TOPICS.scores, _TOPICS.offers)
    ]
