"""One micro-batch through a feature store: read states once, apply, read vectors, write once.

This is the online path (the stream calls it per batch) and the parity check drives it with
shuffled, duplicated input; the offline replay applies the same functions to in-memory state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from features.catalog import Catalog, CatalogDelta, basket_keys
from features.config import FeatureConfig
from features.redelivery import DEFAULT_MEMORY, RememberedRows, RowMemory
from features.state import Outcome, apply_event, order_for, short_hash
from features.store import FeatureStore, Stored
from features.units import epoch
from features.vector import (
    FeatureValues,
    feature_values,
    profile_attributes,
    return_request_values,
)
from schemas import InputEvent, OrderPlaced, ReturnRequested

T = TypeVar("T")


@dataclass(slots=True)
class ScoringRow:
    """The feature vector of an order, or of a return request, as of its own moment."""

    position: int  # index of the event in the batch
    event: OrderPlaced | ReturnRequested
    values: FeatureValues
    attributes: dict[str, str | bool | int | float]
    duplicate: bool
    remembered: bool = False
    """A redelivery scored with the row its first delivery was scored with."""


@dataclass(slots=True)
class BatchResult(Generic[T]):
    outcomes: list[Outcome] = field(default_factory=list)
    rows: list[ScoringRow] = field(default_factory=list)
    decisions: dict[int, T] = field(default_factory=dict)
    """What `decide` returned, by event position, for the customers whose write committed."""
    retried_customers: int = 0


Decide = Callable[
    [Sequence[ScoringRow], Sequence[tuple[int, InputEvent]], Mapping[str, Stored]],
    Mapping[int, T],
]
"""Called once per attempt, after the events are applied and before the states are written:
given the rows to score (in event-time order, so cooldowns and caps count in time), the
attempt's (position, event) pairs and the customers' stored states (whose `memo` it may
change), it returns results by event position."""


def process_batch(
    store: FeatureStore,
    events: Sequence[InputEvent],
    config: FeatureConfig,
    *,
    decide: Decide[T] | None = None,
    memory: RowMemory = DEFAULT_MEMORY,
    max_attempts: int = 5,
) -> BatchResult[T]:
    """Apply `events` in event-time order, reading the feature vector of every order and
    return request just before it is applied, as the offline replay does.

    A feature counts only events strictly before its order, so the vector is the offline one
    when every earlier event has arrived (streams/alignment.py sees to that in the stream). In
    time order, no later event of the batch can have advanced a kind's clock past an older one
    (which would reject it as too late) or pruned a record an order still needs: a backlog
    released in one batch, or a redelivered order, still reads what the offline replay reads.

    `decide` runs before the write, so what it decides (scores, alerts, offers) and what it
    remembers in `Stored.memo` commit together with the features, or are decided again for the
    customers whose write lost a race."""
    result: BatchResult[T] = BatchResult(outcomes=[Outcome.APPLIED] * len(events))
    pending = list(range(len(events)))
    for _attempt in range(max_attempts):
        attempt = [events[i] for i in pending]
        states, catalog = store.load_batch(
            (e.customer_id for e in attempt), order_catalog_keys(attempt)
        )
        requested = {k for k in _request_keys(attempt, states, config) if not catalog.loaded(k)}
        if requested:  # a return request reads its order's basket, known once states are
            catalog.include(store.load_catalog(requested))
        memos = {customer: stored.memo for customer, stored in states.items()}
        changed: dict[str, Stored] = {}
        deltas: dict[str, list[CatalogDelta]] = {}
        rows: list[ScoringRow] = []
        remembered: dict[str, RememberedRows] = {}  # decoded once per customer and attempt
        for i in sorted(pending, key=lambda i: events[i].occurred_at):
            event = events[i]
            stored = states[event.customer_id]
            row = (
                _scoring_row(i, event, stored, catalog, config)
                if isinstance(event, OrderPlaced | ReturnRequested)
                else None
            )
            added: list[CatalogDelta] = []
            outcome = apply_event(stored.state, event, config, deltas=added)
            catalog.apply(added, config.grace_days)
            deltas.setdefault(event.customer_id, []).extend(added)
            result.outcomes[i] = outcome
            if row is not None and memory.keeps:
                customer_rows = remembered.get(event.customer_id)
                if customer_rows is None:
                    customer_rows = remembered[event.customer_id] = RememberedRows(
                        stored.scored, memory
                    )
                _as_first_scored(row, outcome, customer_rows)
            elif row is not None:  # a replay: no redelivery to recognise
                row.duplicate = outcome is Outcome.DUPLICATE
            if row is not None:
                rows.append(row)
            if outcome is Outcome.APPLIED:
                changed[event.customer_id] = stored
        for customer, customer_rows in remembered.items():
            if customer_rows.changed:
                states[customer].scored = customer_rows.encode()
        decided = decide(rows, [(i, events[i]) for i in pending], states) if decide else {}
        changed.update((c, s) for c, s in states.items() if s.memo != memos[c])
        lost = store.save(changed, deltas)
        kept = [i for i in pending if events[i].customer_id not in lost]
        result.rows.extend(row for row in rows if row.event.customer_id not in lost)
        result.decisions.update((i, decided[i]) for i in kept if i in decided)
        if not lost:
            break
        result.retried_customers += len(lost)
        pending = [i for i in pending if events[i].customer_id in lost]
    else:
        raise RuntimeError(f"feature state of {len(pending)} events still contended, giving up")
    result.rows.sort(key=lambda row: row.position)
    return result


def _as_first_scored(row: ScoringRow, outcome: Outcome, remembered: RememberedRows) -> None:
    """A first delivery's row is remembered with the state; a redelivery's is replaced by the
    remembered one (features/redelivery.py), so it yields the first delivery's outputs. A
    redelivery may also come too late to be recognised by the state (the customer's clock moved
    past the records kept in full): its remembered row still says it was applied."""
    if outcome is Outcome.APPLIED:
        remembered.remember(row.event.event_id, row.values, row.attributes)
        return
    first = remembered.recall(row.event.event_id, row.values)
    row.duplicate = outcome is Outcome.DUPLICATE or first is not None
    row.remembered = first is not None
    if first is not None:
        row.values, row.attributes = first


def order_catalog_keys(events: Sequence[InputEvent]) -> set[str]:
    """The catalog keys the batch's orders read (their lines say), and the shop's."""
    products = {
        short_hash(line.product_id)
        for e in events
        if isinstance(e, OrderPlaced)
        for line in e.lines
    }
    categories = {
        short_hash(line.category) for e in events if isinstance(e, OrderPlaced) for line in e.lines
    }
    return basket_keys(products, categories)


def _request_keys(
    events: Sequence[InputEvent], states: Mapping[str, Stored], config: FeatureConfig
) -> set[str]:
    """The catalog keys the batch's return requests read: their orders' lines, from state."""
    lines = [
        line
        for e in events
        if isinstance(e, ReturnRequested)
        and (
            order := order_for(
                states[e.customer_id].state, short_hash(e.order_id), epoch(e.occurred_at), config
            )
        )
        for line in order.lines
    ]
    if not lines:
        return set()
    return basket_keys({line.product for line in lines}, {line.category for line in lines})


def _scoring_row(
    position: int,
    event: OrderPlaced | ReturnRequested,
    stored: Stored,
    catalog: Catalog,
    config: FeatureConfig,
) -> ScoringRow:
    values = (
        feature_values(stored.state, event, config, catalog)
        if isinstance(event, OrderPlaced)
        else return_request_values(stored.state, event, config, catalog)
    )
    attributes = profile_attributes(stored.state, epoch(event.occurred_at))
    return ScoringRow(position, event, values, attributes, duplicate=False)
