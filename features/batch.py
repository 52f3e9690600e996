"""One micro-batch through a feature store: read states once, apply, read vectors, write once.

This is the online path (the stream calls it per batch) and the parity check drives it with
shuffled, duplicated input; the offline replay applies the same functions to in-memory state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from features.config import FeatureConfig
from features.state import Outcome, apply_event, epoch
from features.store import FeatureStore, Stored
from features.vector import FeatureValues, feature_values, profile_attributes
from schemas import InputEvent, OrderPlaced


@dataclass(slots=True)
class OrderRow:
    """An order's feature vector as of the moment it was placed."""

    position: int  # index of the order in the batch
    event: OrderPlaced
    values: FeatureValues
    attributes: dict[str, str | bool | int | float]
    duplicate: bool


@dataclass(slots=True)
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    retried_customers: int = 0


def process_batch(
    store: FeatureStore,
    events: Sequence[InputEvent],
    config: FeatureConfig,
    *,
    max_attempts: int = 5,
) -> BatchResult:
    """Apply `events` (in arrival order) and read a feature vector for every order in them."""
    result = BatchResult(outcomes=[Outcome.APPLIED] * len(events))
    pending = list(range(len(events)))
    for _attempt in range(max_attempts):
        states = store.load(events[i].customer_id for i in pending)
        rows: dict[int, OrderRow] = {}
        changed: dict[str, Stored] = {}
        for i in pending:
            event = events[i]
            stored = states[event.customer_id]
            if isinstance(event, OrderPlaced):
                at = epoch(event.occurred_at)
                rows[i] = OrderRow(
                    i,
                    event,
                    feature_values(stored.state, event, config),
                    profile_attributes(stored.state, at),
                    duplicate=False,
                )
            outcome = apply_event(stored.state, event, config)
            result.outcomes[i] = outcome
            if i in rows:
                rows[i].duplicate = outcome is Outcome.DUPLICATE
            if outcome is Outcome.APPLIED:
                changed[event.customer_id] = stored
        lost = store.save(changed)
        kept = [i for i in pending if events[i].customer_id not in lost]
        result.orders.extend(rows[i] for i in kept if i in rows)
        if not lost:
            break
        result.retried_customers += len(lost)
        pending = [i for i in pending if events[i].customer_id in lost]
    else:
        raise RuntimeError(f"feature state of {len(pending)} events still contended, giving up")
    result.orders.sort(key=lambda row: row.position)
    return result
