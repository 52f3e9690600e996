"""Per-customer feature state: compact event-time records, and how one event updates them.

Pure code, no I/O. The stream keeps this state in Redis and the offline replay keeps it in
memory; both call `apply_event`, so they cannot drift apart.

Every record keeps its exact event time, so a window can be read exactly at any scoring time,
and a late event simply takes its place in time. Each kind of record is kept for its longest
window plus a grace period for late events (`FeatureConfig.grace_days`), measured on an
event-time clock of the customer's own, one per kind (`newest[kind]`), never on the wall clock.
Each kind arrives on one topic, in order per customer, so a topic that a consumer reads ahead
of the others (as faust does when catching up) cannot make another kind's events "too late".
Event ids are kept as
64-bit hashes on the records themselves, which makes `apply_event` idempotent: a redelivered
event changes nothing, and a record is only forgotten once an event of its age would be
rejected as too late anyway.
"""

from __future__ import annotations

import bisect
import hashlib
import zlib
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

from features.config import FeatureConfig
from features.order import order_features
from features.units import DAY, cents, epoch
from schemas import (
    CampaignTouch,
    CustomerUpdated,
    InputEvent,
    OrderPlaced,
    ReturnReceived,
    ReturnRequested,
)
from schemas.common import (
    ItemCondition,
    LoyaltyTier,
    MarketingChannel,
    ReasonCode,
    Resolution,
    ReturnType,
    TouchAction,
)

# Enumerations are stored as their position in these tuples; appending values is safe,
# reordering is not (it would change the meaning of stored state).
REASONS: tuple[ReasonCode, ...] = tuple(ReasonCode)
RETURN_TYPES: tuple[ReturnType, ...] = tuple(ReturnType)
RESOLUTIONS: tuple[Resolution, ...] = tuple(Resolution)
CHANNELS: tuple[MarketingChannel, ...] = tuple(MarketingChannel)
ACTIONS: tuple[TouchAction, ...] = tuple(TouchAction)
TIERS: tuple[LoyaltyTier, ...] = tuple(LoyaltyTier)


class Kind(IntEnum):
    """Record kinds, each with its own retention."""

    ORDER = 0
    RETURN = 1
    RECEIPT = 2
    TOUCH = 3
    PROFILE = 4


RETENTION_DAYS: dict[Kind, int] = {
    Kind.ORDER: 365,
    Kind.RETURN: 365,
    Kind.RECEIPT: 365,
    Kind.TOUCH: 7,
    Kind.PROFILE: 0,  # only the versions that can still be "as of" some late scoring time
}


class OrderLine(NamedTuple):
    sku: int
    product: int
    unit_net_cents: int
    quantity: int


class OrderRecord(NamedTuple):
    at: int
    event: int
    order: int
    gross_cents: int
    discount_cents: int
    items: int
    bracketing: bool
    lines: tuple[OrderLine, ...]
    features: tuple[float | int | str, ...]
    """The order's own features (`vector.order_features`), to score its return requests."""


class ReturnLine(NamedTuple):
    sku: int
    quantity: int
    reason: int


class ReturnRecord(NamedTuple):
    at: int
    event: int
    return_: int
    order: int
    return_type: int
    resolution: int
    lines: tuple[ReturnLine, ...]


class ReceiptRecord(NamedTuple):
    at: int
    event: int
    worn: int
    damaged: int


class TouchRecord(NamedTuple):
    at: int
    event: int
    channel: int
    action: int
    campaign: str
    discount_bp: int  # basis points of the campaign's discount, -1 when it offered none


class ProfileRecord(NamedTuple):
    at: int
    event: int
    tier: int
    staff: bool
    signup_at: int
    country: str
    email_opt_in: bool
    attributes: dict[str, str | bool | int | float]


Record = OrderRecord | ReturnRecord | ReceiptRecord | TouchRecord | ProfileRecord


@dataclass
class CustomerState:
    """Everything the features of one customer are computed from."""

    newest: list[int] = field(default_factory=lambda: [0] * len(Kind))
    """Newest event time seen per record kind: the clocks retention runs on."""
    first_order_at: int | None = None
    expired_orders: int = 0
    last_expired_order_at: int | None = None
    orders: list[OrderRecord] = field(default_factory=list)
    returns: list[ReturnRecord] = field(default_factory=list)
    receipts: list[ReceiptRecord] = field(default_factory=list)
    touches: list[TouchRecord] = field(default_factory=list)
    profiles: list[ProfileRecord] = field(default_factory=list)


class Outcome(IntEnum):
    APPLIED = 0
    DUPLICATE = 1
    TOO_LATE = 2


def event_hash(event_id: str) -> int:
    """64-bit id of an event for deduplication (collisions: ~1e-16 per customer-year)."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def short_hash(value: str) -> int:
    """32-bit id for skus, products, orders and returns within one customer's state."""
    return zlib.crc32(value.encode())


def is_bracketing(order: OrderPlaced) -> bool:
    """Several sizes or colours of one product in one order: some are meant to go back."""
    variants: dict[str, set[tuple[str | None, str | None]]] = {}
    for line in order.lines:
        variants.setdefault(line.product_id, set()).add((line.size, line.color))
    return any(len(v) > 1 for v in variants.values())


def _order_record(
    event: OrderPlaced, at: int, eid: int, features: tuple[float | int | str, ...]
) -> OrderRecord:
    lines = []
    gross = discount = items = 0
    for line in event.lines:
        line_gross = cents(line.unit_price) * line.quantity
        line_discount = min(cents(line.discount_amount), line_gross)
        gross += line_gross
        discount += line_discount
        items += line.quantity
        unit_net = (line_gross - line_discount) // line.quantity
        lines.append(
            OrderLine(short_hash(line.sku), short_hash(line.product_id), unit_net, line.quantity)
        )
    return OrderRecord(
        at,
        eid,
        short_hash(event.order_id),
        gross,
        discount,
        items,
        is_bracketing(event),
        tuple(lines),
        features,
    )


def make_record(event: InputEvent, config: FeatureConfig) -> tuple[Kind, Record]:
    """The compact record an event leaves in its customer's state."""
    at, eid = epoch(event.occurred_at), event_hash(event.event_id)
    if isinstance(event, OrderPlaced):
        compact = tuple(
            int(v) if isinstance(v, float) and v.is_integer() else v
            for v in order_features(event, config).values()
        )
        return Kind.ORDER, _order_record(event, at, eid, compact)
    if isinstance(event, ReturnRequested):
        lines = tuple(
            ReturnLine(short_hash(line.sku), line.quantity, REASONS.index(line.reason_code))
            for line in event.lines
        )
        return Kind.RETURN, ReturnRecord(
            at,
            eid,
            short_hash(event.return_id),
            short_hash(event.order_id),
            RETURN_TYPES.index(event.return_type),
            RESOLUTIONS.index(event.preferred_resolution),
            lines,
        )
    if isinstance(event, ReturnReceived):
        condition = Counter[ItemCondition]()
        for received in event.lines:
            condition[received.condition] += received.quantity
        return Kind.RECEIPT, ReceiptRecord(
            at, eid, condition[ItemCondition.WORN], condition[ItemCondition.DAMAGED]
        )
    if isinstance(event, CampaignTouch):
        discount = -1 if event.discount_pct is None else int(event.discount_pct * 100)
        return Kind.TOUCH, TouchRecord(
            at,
            eid,
            CHANNELS.index(event.channel),
            ACTIONS.index(event.action),
            event.campaign_id,
            discount,
        )
    if isinstance(event, CustomerUpdated):
        return Kind.PROFILE, ProfileRecord(
            at,
            eid,
            TIERS.index(event.loyalty_tier),
            event.is_staff,
            epoch(event.signup_at),
            event.country,
            event.email_opt_in,
            dict(event.attributes),
        )
    raise TypeError(f"no feature record for event type {type(event).__name__}")


def records_of(state: CustomerState, kind: Kind) -> list[Record]:
    lists: tuple[list[Record], ...] = (
        state.orders,
        state.returns,
        state.receipts,
        state.touches,
        state.profiles,  # type: ignore[assignment]
    )
    return lists[kind]


def apply_event(state: CustomerState, event: InputEvent, config: FeatureConfig) -> Outcome:
    """Add one event to a customer's state; duplicates and too-late events change nothing."""
    kind, record = make_record(event, config)
    return apply_record(state, kind, record, config)


def apply_record(
    state: CustomerState, kind: Kind, record: Record, config: FeatureConfig
) -> Outcome:
    """`apply_event` for an already built record (the stream builds them once per batch)."""
    if record.at < _horizon(state.newest[kind], kind, config):
        return Outcome.TOO_LATE
    records = records_of(state, kind)
    if any(existing.event == record.event for existing in records):
        return Outcome.DUPLICATE
    bisect.insort(records, record, key=_record_order)
    if isinstance(record, OrderRecord) and (
        state.first_order_at is None or record.at < state.first_order_at
    ):
        state.first_order_at = record.at
    if record.at > state.newest[kind]:
        state.newest[kind] = record.at
        _expire(state, kind, config)
    elif len(records) > config.max_records_per_kind:
        _expire(state, kind, config)
    return Outcome.APPLIED


def _record_order(record: Record) -> tuple[int, int]:
    return record.at, record.event


def _horizon(newest_at: int, kind: Kind, config: FeatureConfig) -> int:
    """Records older than this are no longer needed by any window that can still be read."""
    return newest_at - (RETENTION_DAYS[kind] + config.grace_days) * DAY


def _expire(state: CustomerState, kind: Kind, config: FeatureConfig) -> None:
    records = records_of(state, kind)
    horizon = _horizon(state.newest[kind], kind, config)
    if kind is Kind.PROFILE:
        # Keep the newest version at or before the horizon: it is "as of" the horizon.
        keep_from = bisect.bisect_right(records, horizon, key=lambda r: r.at) - 1
    else:
        keep_from = bisect.bisect_left(records, horizon, key=lambda r: r.at)
    keep_from = max(keep_from, len(records) - config.max_records_per_kind, 0)
    if keep_from:
        if kind is Kind.ORDER:
            state.expired_orders += keep_from
            state.last_expired_order_at = max(
                state.last_expired_order_at or 0, records[keep_from - 1].at
            )
        del records[:keep_from]
