"""Turning returned lines into return_requested and return_received events.

Delays, methods, resolutions, received conditions and refunds live here. Events that would
fall after the end of the window are not emitted (the log is censored like a real extract),
so a late order's return simply has not happened yet.
"""

from __future__ import annotations

import math
import random

from simulator import events
from simulator.calendar import DAY
from simulator.config import ConditionName
from simulator.customers import Customer
from simulator.orders import PlacedOrder
from simulator.return_model import (
    COMMERCIAL,
    END_OF_LIFE,
    SERVICE,
    ReturnedLine,
)
from simulator.timeline import Timeline
from simulator.world import World

_SIZE_REASONS = frozenset({"size_too_small", "size_too_large"})
_DEFECT_REASONS = frozenset({"damaged", "defective"})


def _request_delay(world: World, order: PlacedOrder, kind: str, rng: random.Random) -> int:
    returns = world.config.returns
    if kind == SERVICE:
        return int(rng.uniform(*returns.service_delay_days) * DAY)
    if kind == END_OF_LIFE:
        return int(rng.uniform(*returns.end_of_life_delay_days) * DAY)
    days = rng.lognormvariate(
        math.log(returns.request_delay_median_days), returns.request_delay_sigma
    )
    delay = int(min(max(days, 1.0), returns.window_days) * DAY)
    gift_from = world.calendar.gift_returns_from[order.t // DAY]
    if gift_from is None or order.t + delay >= gift_from:
        return delay
    if rng.random() < world.config.seasonality.gift.share:  # a gift: returned after the holidays
        return gift_from + delay - order.t
    return delay


def _resolution(world: World, kind: str, lines: list[ReturnedLine], rng: random.Random) -> str:
    if kind == SERVICE:
        return world.resolution_service.pick(rng)
    if kind == END_OF_LIFE:
        return "store_credit"
    if any(r.reason in _SIZE_REASONS for r in lines):
        return world.resolution_size.pick(rng)
    return world.resolution_other.pick(rng)


def _condition(
    world: World, customer: Customer, returned: ReturnedLine, rng: random.Random
) -> ConditionName:
    if returned.return_type == END_OF_LIFE:
        return world.end_of_life_conditions.pick(rng)
    if returned.reason in _DEFECT_REASONS:
        return world.defect_conditions.pick(rng)
    if customer.serial_returner:
        return world.serial_conditions.pick(rng)
    return world.conditions.pick(rng)


def _refund_cents(world: World, returned: ReturnedLine, condition: ConditionName) -> int:
    line = returned.line
    paid = (line.unit_cents * line.quantity - line.discount_cents) * returned.units // line.quantity
    if returned.reason in _DEFECT_REASONS:
        return paid
    return round(paid * world.config.returns.refund_share[condition])


def _emit(
    world: World,
    customer: Customer,
    order: PlacedOrder,
    return_id: str,
    kind: str,
    lines: list[ReturnedLine],
    rng: random.Random,
    timeline: Timeline,
) -> tuple[bool, tuple[int, float] | None]:
    """Emit one return: whether it was requested in the window, and (second received, refund
    in base currency) if it was also received in it."""
    returns, end = world.config.returns, world.calendar.end
    requested = order.t + _request_delay(world, order, kind, rng)
    if requested >= end:
        return False, None
    if order.channel == "store" and rng.random() < returns.store_order_store_return_prob:
        method = "store"
    else:
        method = world.methods.pick(rng)
    resolution = _resolution(world, kind, lines, rng)
    eid, at = timeline.header(requested)
    line = events.return_requested(
        eid,
        at,
        customer.customer_id,
        return_id=return_id,
        order_id=order.order_id,
        lines=[(r.line.sku, r.units, r.reason) for r in lines],
        return_type=kind,
        method=method,
        preferred_resolution=resolution,
    )
    timeline.add(requested, "return_requested", line)
    if kind != END_OF_LIFE:  # a take-back for recycling is not a return of the purchase
        timeline.returned_items += sum(r.units for r in lines)
    received = requested + int(rng.uniform(*returns.receive_delay_days) * DAY)
    arrived = [r for r in lines if rng.random() >= returns.missing_line_prob]
    if received >= end or not arrived:
        return True, None
    conditions = [_condition(world, customer, r, rng) for r in arrived]
    refund = 0
    if resolution != "exchange" and kind != END_OF_LIFE:
        refund = sum(_refund_cents(world, r, c) for r, c in zip(arrived, conditions, strict=True))
    eid, at = timeline.header(received)
    line = events.return_received(
        eid,
        at,
        customer.customer_id,
        return_id=return_id,
        order_id=order.order_id,
        lines=[(r.line.sku, r.units, c) for r, c in zip(arrived, conditions, strict=True)],
        refund_cents=refund,
    )
    timeline.add(received, "return_received", line)
    return True, (received, refund / 100.0 / customer.country.price_factor)


def emit_returns(
    world: World,
    customer: Customer,
    order: PlacedOrder,
    returned: list[ReturnedLine],
    rng: random.Random,
    timeline: Timeline,
) -> list[tuple[int, float]]:
    """One return per return type of `order`; give the refunds as (second, base amount)."""
    by_kind: dict[str, list[ReturnedLine]] = {}
    for r in returned:
        by_kind.setdefault(r.return_type, []).append(r)
    refunds, any_requested = [], False
    for n, kind in enumerate(k for k in (COMMERCIAL, SERVICE, END_OF_LIFE) if k in by_kind):
        return_id = f"ret-{order.order_id.removeprefix('ord-')}-{n + 1}"
        requested, refund = _emit(
            world, customer, order, return_id, kind, by_kind[kind], rng, timeline
        )
        any_requested |= requested and kind != END_OF_LIFE
        if refund is not None:
            refunds.append(refund)
    if any_requested:
        timeline.returned_orders += 1
    return refunds
