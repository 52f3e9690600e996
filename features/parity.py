"""Online/offline parity: the stream's feature vectors against the offline replay's.

The log is delivered the way a real stream delivers it: each event late by up to
`max_lateness_s`, a share of events delivered twice, in micro-batches through a feature store
(Redis in production). Every order's online vector is compared with the offline replay's
vector for the same order. When an event that happened before an order arrives after it, no
stream can know it at scoring time; such an order is compared after the stream has caught up,
as of the order's time (what a re-score reads), and counted apart.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from features.batch import BatchResult, order_catalog_keys, process_batch
from features.config import FeatureConfig
from features.registry import FEATURE_NAMES
from features.replay import replay_orders
from features.store import FeatureStore
from features.units import DAY, epoch
from features.vector import FeatureValues, feature_values
from schemas import InputEvent, OrderPlaced


@dataclass(frozen=True, slots=True)
class Mismatch:
    order_id: str
    when: str  # "at scoring" or "after catch-up"
    differences: dict[str, tuple[object, object]]  # feature -> (online, offline)


@dataclass(slots=True)
class ParityReport:
    events_delivered: int = 0
    duplicates_delivered: int = 0
    orders_compared: int = 0
    compared_after_catch_up: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


def delivery_order(
    events: Sequence[InputEvent],
    max_lateness_s: float,
    duplicate_share: float,
    seed: int,
    redelivery_gap: int | None = None,
) -> list[InputEvent]:
    """Events as a stream might deliver them: late by up to `max_lateness_s`, some twice.

    A second delivery is itself late by up to `max_lateness_s`, or, with `redelivery_gap`,
    comes 1 to `redelivery_gap` deliveries after the first (a consumer that lost its commit).
    """
    rng = random.Random(seed)
    delivered = [(e.occurred_at.timestamp() + rng.uniform(0, max_lateness_s), e) for e in events]
    again = [event for event in events if rng.random() < duplicate_share]
    if redelivery_gap is None:
        for event in again:
            delivered.append(
                (event.occurred_at.timestamp() + rng.uniform(0, max_lateness_s), event)
            )
    delivered.sort(key=lambda item: item[0])
    arrivals = [event for _, event in delivered]
    if redelivery_gap is None or not again:
        return arrivals
    position = {id(event): index for index, event in enumerate(arrivals)}
    keyed = [(float(index), event) for index, event in enumerate(arrivals)]
    for event in again:
        keyed.append((position[id(event)] + rng.randint(1, redelivery_gap) + 0.5, event))
    keyed.sort(key=lambda item: item[0])
    return [event for _, event in keyed]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _differences(online: FeatureValues, offline: FeatureValues) -> dict[str, tuple[object, object]]:
    return {
        name: (online[name], offline[name])
        for name in FEATURE_NAMES
        if not _same(online[name], offline[name])
    }


def run_parity(
    events: Sequence[InputEvent],
    store: FeatureStore,
    config: FeatureConfig,
    *,
    max_lateness_s: float,
    duplicate_share: float,
    batch_size: int = 500,
    seed: int = 0,
    redelivery_gap: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ParityReport:
    """Drive `events` (event-time order) through `store` and compare every order's vector
    (`delivery_order` says how they are delivered)."""
    if max_lateness_s > config.grace_days * DAY:
        raise ValueError(
            f"max lateness {max_lateness_s:.0f} s exceeds the grace period of "
            f"{config.grace_days} days: such events are rejected as too late by design"
        )
    offline = {order.event_id: values for order, values, _ in replay_orders(events, config)}
    arrivals = delivery_order(events, max_lateness_s, duplicate_share, seed, redelivery_gap)
    report = ParityReport(events_delivered=len(arrivals))
    report.duplicates_delivered = len(arrivals) - len(events)
    first_delivery: dict[str, int] = {}
    for index, event in enumerate(arrivals):
        first_delivery.setdefault(event.event_id, index)
    last_predecessor = _last_predecessor_delivery(events, first_delivery)
    # An order scored before one of its earlier events arrived is re-read as of its own time
    # right after that event: batches end there, so the state has not moved on further.
    catch_up_points = sorted({p for eid, p in last_predecessor.items() if p > first_delivery[eid]})
    waiting: list[OrderPlaced] = []
    start = 0
    while start < len(arrivals):
        end = min(start + batch_size, len(arrivals))
        next_point = bisect.bisect_left(catch_up_points, start)
        if next_point < len(catch_up_points):
            end = min(end, catch_up_points[next_point] + 1)
        batch = arrivals[start:end]
        result: BatchResult[None] = process_batch(store, batch, config)
        for row in result.rows:
            order = row.event
            if not isinstance(order, OrderPlaced):
                continue
            delivered_at = start + row.position
            if first_delivery[order.event_id] != delivered_at:
                continue  # a redelivery: the first delivery was compared
            if last_predecessor[order.event_id] < delivered_at:
                _compare(report, order, row.values, offline[order.event_id], "at scoring")
            else:
                waiting.append(order)
        caught_up = [o for o in waiting if last_predecessor[o.event_id] < end]
        if caught_up:
            _compare_after_catch_up(report, store, caught_up, offline, config)
            waiting = [o for o in waiting if last_predecessor[o.event_id] >= end]
        if on_batch:
            on_batch(len(batch))
        start = end
    return report


def _compare_after_catch_up(
    report: ParityReport,
    store: FeatureStore,
    orders: list[OrderPlaced],
    offline: dict[str, FeatureValues],
    config: FeatureConfig,
) -> None:
    """Re-read orders as of their own time once every earlier event has arrived."""
    states, catalog = store.load_batch(
        (order.customer_id for order in orders), order_catalog_keys(orders)
    )
    for order in orders:
        online = feature_values(states[order.customer_id].state, order, config, catalog)
        _compare(report, order, online, offline[order.event_id], "after catch-up")
        report.compared_after_catch_up += 1


def _compare(
    report: ParityReport,
    order: OrderPlaced,
    online: FeatureValues,
    offline: FeatureValues,
    when: str,
) -> None:
    report.orders_compared += 1
    differences = _differences(online, offline)
    if differences:
        report.mismatches.append(Mismatch(order.order_id, when, differences))


def _last_predecessor_delivery(
    events: Sequence[InputEvent], first_delivery: dict[str, int]
) -> dict[str, int]:
    """For every order, when the last event it reads was delivered: its customer's strictly
    earlier events, and every customer's events of earlier UTC days (the catalog it reads)."""
    latest: dict[str, int] = {}  # customer -> latest delivery among events before `second`
    pending: dict[str, int] = {}  # customer -> latest delivery among events at `second`
    second: dict[str, int] = {}
    result: dict[str, int] = {}
    earlier_days = today = -1  # latest delivery among all events of earlier days / of `day`
    day = None
    for event in events:  # event-time order
        customer, at = event.customer_id, epoch(event.occurred_at)
        if at // DAY != day:
            earlier_days, today, day = max(earlier_days, today), -1, at // DAY
        if second.get(customer) != at:
            latest[customer] = max(latest.get(customer, -1), pending.pop(customer, -1))
            second[customer] = at
        if isinstance(event, OrderPlaced):
            result[event.event_id] = max(latest.get(customer, -1), earlier_days)
        pending[customer] = max(pending.get(customer, -1), first_delivery[event.event_id])
        today = max(today, first_delivery[event.event_id])
    return result
