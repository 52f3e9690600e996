"""Per-customer feature state: event-time records, day tiles, and how one event updates them.

Pure code, no I/O. The stream keeps this state in Redis and the offline replay keeps it in
memory; both call `apply_event`, so they cannot drift apart.

Time runs on event-time clocks of the customer's own, one per kind (`newest[kind]`), never on
the wall clock. Each kind arrives on one topic, in order per customer, so a topic that a
consumer reads ahead of the others (as faust does when catching up) cannot make another kind's
events "too late".

Exact at day grain, bounded by days, never truncated:
- Orders, return requests and receipts are kept as full records for their most recent days
  (`detail_days`: the grace period plus one day; for orders and return requests also
  `return_match_days`, so a request can still be matched to its order). Older records are
  folded into one tile per UTC day (`OrderTile`, `ReturnTile`, `ReceiptTile`) holding the sums
  every window reads, and tiles are dropped after the kind's longest window (365 days) plus
  the grace period.
  Windows are therefore read at day grain (features/vector.py): a record counts in a window
  of W days read at moment `at` when it is strictly earlier than `at` and its UTC day is at
  most W days before the day of `at`. Records and tiles are summed by the same code
  (`tile_of`), so whether a day is tiled yet never changes a value.
- A customer costs at most one tile per day per kind for a year, plus the records of its
  last `detail_days` days; no record is ever dropped to save memory.
- Return requests are matched to their order when both are kept (whichever arrives second);
  the match (order time, value of the returned lines, products) is stored on the request, so
  folding the order into a tile later changes nothing. An order placed more than
  `return_match_days` before the request is not matched (no value, delay or products).
  Whether an order buys a product returned earlier (`repurchase`) is stored on the order when
  it or a matched request arrives, and summed into its tile.
- Idempotency: event ids are kept as 64-bit hashes on the records. A kind kept as tiles
  accepts an event only for the days it still keeps as records (anything older is too late),
  so a redelivered event either meets its own record (a duplicate) or is too late: it can
  never be added to a tile twice, and tiles need no event ids. Within the grace period
  every event, late or redelivered, lands exactly, and the state is the same byte for byte
  whatever the arrival order.
- Touches (7-day window) and profile versions are kept as records, for their window plus
  the grace period.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import zlib
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

from features.catalog import (
    ALL,
    PROFILES,
    RECEIPTS,
    RETURNED,
    SOLD,
    TOUCHES,
    CatalogDelta,
    category_key,
    product_key,
)
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
    category: int


class OrderRecord(NamedTuple):
    at: int
    event: int
    order: int
    gross_cents: int
    discount_cents: int
    items: int
    bracketing: bool
    lines: tuple[OrderLine, ...]
    features: tuple[float | int | str | None, ...]
    """The order's own features (`vector.order_features`), to score its return requests."""
    repurchase: bool = False
    """A product of this order had a return request before it (`returned_products`)."""
    returned_at: int = -1
    """When its first commercial return request was made, once matched; -1 while none."""


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
    order_at: int = -1
    """When its order was placed, once matched (`match_return`); -1 while unmatched."""
    value_cents: int = 0
    """Net value of the returned lines at their price in the order (0 while unmatched)."""
    products: tuple[int, ...] = ()
    """Distinct products of the returned lines, known once matched."""


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


class OrderTile(NamedTuple):
    """The orders of one UTC day, summed: what every window reads of them at day grain."""

    day: int  # days since the epoch
    orders: int
    items: int
    gross_cents: int
    discount_cents: int
    bracketing: int
    repurchases: int
    returned: int  # orders with a commercial return request (as of the moment read)
    last_at: int  # the day's last order, for days since the last order


class ReturnTile(NamedTuple):
    """The return requests of one UTC day, summed (items, value, delays, reasons and
    resolutions count commercial returns only, as the features do)."""

    day: int
    commercial: int
    service: int
    end_of_life: int
    items: int
    value_cents: int
    delay_s: int  # sum of order-to-request seconds of matched requests placed after the order
    delays: int
    fit: int
    quality: int
    other: int
    resolutions: tuple[int, ...]  # per index of RESOLUTIONS
    products: tuple[int, ...]  # distinct products returned that day (every return type)
    last_at: int  # the day's last commercial request (-1: none)


class ReceiptTile(NamedTuple):
    day: int
    worn: int
    damaged: int


Tile = OrderTile | ReturnTile | ReceiptTile


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
    order_tiles: list[OrderTile] = field(default_factory=list)
    return_tiles: list[ReturnTile] = field(default_factory=list)
    receipt_tiles: list[ReceiptTile] = field(default_factory=list)


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


def order_lines(event: OrderPlaced) -> tuple[OrderLine, ...]:
    """An order's lines as its record keeps them: hashes, net unit price, quantity."""
    lines = []
    for line in event.lines:
        line_gross = cents(line.unit_price) * line.quantity
        line_discount = min(cents(line.discount_amount), line_gross)
        unit_net = (line_gross - line_discount) // line.quantity
        lines.append(
            OrderLine(
                short_hash(line.sku),
                short_hash(line.product_id),
                unit_net,
                line.quantity,
                short_hash(line.category),
            )
        )
    return tuple(lines)


def _order_record(
    event: OrderPlaced, at: int, eid: int, features: tuple[float | int | str | None, ...]
) -> OrderRecord:
    gross = discount = items = 0
    for line in event.lines:
        line_gross = cents(line.unit_price) * line.quantity
        gross += line_gross
        discount += min(cents(line.discount_amount), line_gross)
        items += line.quantity
    return OrderRecord(
        at,
        eid,
        short_hash(event.order_id),
        gross,
        discount,
        items,
        is_bracketing(event),
        order_lines(event),
        features,
    )


def _compact_value(value: float | str) -> float | int | str | None:
    """Whole floats as ints and missing numbers (NaN) as None: smaller when encoded, and
    equal to themselves once decoded."""
    if isinstance(value, float):
        return None if math.isnan(value) else int(value) if value.is_integer() else value
    return value


def make_record(event: InputEvent, config: FeatureConfig) -> tuple[Kind, Record]:
    """The compact record an event leaves in its customer's state. An order keeps its own
    features (`order_features`: from the order alone, so whatever arrives later cannot change
    them), to score its return requests with."""
    at, eid = epoch(event.occurred_at), event_hash(event.event_id)
    if isinstance(event, OrderPlaced):
        values = order_features(event, config)
        compact = tuple(_compact_value(v) for v in values.values())
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


def tiles_of(state: CustomerState, kind: Kind) -> list[Tile] | None:
    """The day tiles of a kind, or None for the kinds kept only as records."""
    tiles: dict[Kind, list[Tile]] = {
        Kind.ORDER: state.order_tiles,  # type: ignore[dict-item]
        Kind.RETURN: state.return_tiles,  # type: ignore[dict-item]
        Kind.RECEIPT: state.receipt_tiles,  # type: ignore[dict-item]
    }
    return tiles.get(kind)


TILED = frozenset({Kind.ORDER, Kind.RETURN, Kind.RECEIPT})


def detail_days(kind: Kind, config: FeatureConfig) -> int:
    """Whole days (behind the day of the kind's newest event) whose records are kept in full.

    Orders and return requests are kept long enough for a request placed up to
    `return_match_days` after its order to be matched to it whichever of the two arrives
    first, up to `grace_days` late; receipts for the grace period.
    """
    if kind in (Kind.ORDER, Kind.RETURN):
        return config.return_match_days + config.grace_days + 1
    return config.grace_days + 1


def apply_event(
    state: CustomerState,
    event: InputEvent,
    config: FeatureConfig,
    *,
    deltas: list[CatalogDelta] | None = None,
) -> Outcome:
    """Add one event to a customer's state; duplicates and too-late events change nothing.

    What the event adds to the catalog (sales, matched return requests, kinds seen) is
    appended to `deltas`, only when it is applied."""
    kind, record = make_record(event, config)
    changes: list[CatalogDelta] = []
    outcome = _apply_record(state, kind, record, config, changes)
    if outcome is Outcome.APPLIED and deltas is not None:
        deltas.extend(changes)
    return outcome


def _apply_record(
    state: CustomerState,
    kind: Kind,
    record: Record,
    config: FeatureConfig,
    deltas: list[CatalogDelta],
) -> Outcome:
    if record.at < _horizon(state.newest[kind], kind, config):
        return Outcome.TOO_LATE
    records = records_of(state, kind)
    if any(existing.event == record.event for existing in records):
        return Outcome.DUPLICATE
    if isinstance(record, ReturnRecord):
        record = _matched(state, record, config, deltas)
    elif isinstance(record, OrderRecord):
        record = record._replace(repurchase=_bought_returned(state, record))
    bisect.insort(records, record, key=_record_order)
    if isinstance(record, ReturnRecord):
        _flag_repurchases(state, record)
    elif isinstance(record, OrderRecord):
        if state.first_order_at is None or record.at < state.first_order_at:
            state.first_order_at = record.at
        deltas.extend(_sold(record))
        _match_returns_of(state, record.order, config, deltas)
    elif kind in _SEEN:
        deltas.append(CatalogDelta(ALL, record.at // DAY, _SEEN[kind]))
    if record.at > state.newest[kind]:
        state.newest[kind] = record.at
        _compact(state, kind, config)
    return Outcome.APPLIED


def _record_order(record: Record) -> tuple[int, int]:
    return record.at, record.event


def _horizon(newest_at: int, kind: Kind, config: FeatureConfig) -> int:
    """Events older than this are too late: a kind kept as day tiles accepts events only for
    the days it still keeps in full (so a redelivery can never be added to a tile twice);
    touches and profiles keep records for their longest window plus the grace period."""
    if kind in TILED:
        return (newest_at // DAY - detail_days(kind, config)) * DAY
    return newest_at - (RETENTION_DAYS[kind] + config.grace_days) * DAY


def _compact(state: CustomerState, kind: Kind, config: FeatureConfig) -> None:
    records = records_of(state, kind)
    tiles = tiles_of(state, kind)
    if tiles is None:
        _expire(state, kind, records, config)
        return
    horizon = _horizon(state.newest[kind], kind, config)
    keep_from = bisect.bisect_left(records, horizon, key=lambda r: r.at)
    for record in records[:keep_from]:
        _add_to_tiles(tiles, tile_of(record))
    del records[:keep_from]
    last_day = state.newest[kind] // DAY - (RETENTION_DAYS[kind] + config.grace_days)
    drop = bisect.bisect_left(tiles, last_day, key=lambda t: t.day)
    for tile in tiles[:drop]:
        if isinstance(tile, OrderTile):
            state.expired_orders += tile.orders
            state.last_expired_order_at = max(state.last_expired_order_at or 0, tile.last_at)
    del tiles[:drop]


def _expire(state: CustomerState, kind: Kind, records: list[Record], config: FeatureConfig) -> None:
    horizon = _horizon(state.newest[kind], kind, config)
    if kind is Kind.PROFILE:
        # Keep the newest version at or before the horizon: it is "as of" the horizon.
        keep_from = bisect.bisect_right(records, horizon, key=lambda r: r.at) - 1
    else:
        keep_from = bisect.bisect_left(records, horizon, key=lambda r: r.at)
    if keep_from > 0:
        del records[:keep_from]


def _add_to_tiles(tiles: list[Tile], tile: Tile) -> None:
    index = bisect.bisect_left(tiles, tile.day, key=lambda t: t.day)
    if index < len(tiles) and tiles[index].day == tile.day:
        tiles[index] = merge_tiles(tiles[index], tile)
    else:
        tiles.insert(index, tile)


# --- day tiles -----------------------------------------------------------------------------


def reason_group(reason: int) -> str:
    """'fit', 'quality' or 'other': the groups the reason-share features count."""
    return "fit" if reason in _FIT else "quality" if reason in _QUALITY else "other"


_FIT = {REASONS.index(ReasonCode.SIZE_TOO_SMALL), REASONS.index(ReasonCode.SIZE_TOO_LARGE)}
_QUALITY = {
    REASONS.index(r)
    for r in (
        ReasonCode.NOT_AS_DESCRIBED,
        ReasonCode.DAMAGED,
        ReasonCode.DEFECTIVE,
        ReasonCode.WRONG_ITEM,
    )
}
COMMERCIAL = RETURN_TYPES.index(ReturnType.COMMERCIAL)
SERVICE = RETURN_TYPES.index(ReturnType.SERVICE)
END_OF_LIFE = RETURN_TYPES.index(ReturnType.END_OF_LIFE)


def tile_of(record: Record, at: int | None = None) -> Tile:
    """The day tile of a single record: tiles and records are read through the same sums.
    Read as of `at`, an order counts as returned only for a request made before it."""
    day = record.at // DAY
    if isinstance(record, OrderRecord):
        return OrderTile(
            day,
            1,
            record.items,
            record.gross_cents,
            record.discount_cents,
            int(record.bracketing),
            int(record.repurchase),
            int(record.returned_at >= 0 and (at is None or record.returned_at < at)),
            record.at,
        )
    if isinstance(record, ReturnRecord):
        commercial = record.return_type == COMMERCIAL
        groups = Counter[str]()
        for line in record.lines:
            groups[reason_group(line.reason)] += line.quantity
        resolutions = [0] * len(RESOLUTIONS)
        resolutions[record.resolution] = 1
        timed = commercial and 0 <= record.order_at <= record.at
        if not commercial:
            groups.clear()
            resolutions = [0] * len(RESOLUTIONS)
        return ReturnTile(
            day,
            int(commercial),
            int(record.return_type == SERVICE),
            int(record.return_type == END_OF_LIFE),
            sum(line.quantity for line in record.lines) if commercial else 0,
            record.value_cents if commercial else 0,
            record.at - record.order_at if timed else 0,
            int(timed),
            groups["fit"],
            groups["quality"],
            groups["other"],
            tuple(resolutions),
            record.products,
            record.at if commercial else -1,
        )
    if isinstance(record, ReceiptRecord):
        return ReceiptTile(day, record.worn, record.damaged)
    raise TypeError(f"records of type {type(record).__name__} are not kept as tiles")


def merge_tiles(a: Tile, b: Tile) -> Tile:
    """Two tiles of one day as one (commutative and associative: any arrival order gives the
    same tile)."""
    if isinstance(a, OrderTile) and isinstance(b, OrderTile):
        sums = [x + y for x, y in zip(a[1:8], b[1:8], strict=True)]
        return OrderTile._make([a.day, *sums, max(a.last_at, b.last_at)])
    if isinstance(a, ReturnTile) and isinstance(b, ReturnTile):
        counts = [x + y for x, y in zip(a[1:11], b[1:11], strict=True)]
        return ReturnTile._make(
            [
                a.day,
                *counts,
                tuple(x + y for x, y in zip(a.resolutions, b.resolutions, strict=True)),
                tuple(sorted({*a.products, *b.products})),
                max(a.last_at, b.last_at),
            ]
        )
    if isinstance(a, ReceiptTile) and isinstance(b, ReceiptTile):
        return ReceiptTile(a.day, a.worn + b.worn, a.damaged + b.damaged)
    raise TypeError(f"cannot merge {type(a).__name__} with {type(b).__name__}")


# --- return requests matched to their orders -----------------------------------------------


def order_for(
    state: CustomerState, order: int, at: int, config: FeatureConfig
) -> OrderRecord | None:
    """The order a return request made at `at` is for: the last kept order with its id placed
    at most `return_match_days` before the request (older orders are not matched)."""
    since = at - config.return_match_days * DAY
    found = None
    for candidate in state.orders:
        if candidate.order == order and candidate.at >= since:
            found = candidate
    return found


def _matched(
    state: CustomerState, request: ReturnRecord, config: FeatureConfig, deltas: list[CatalogDelta]
) -> ReturnRecord:
    order = order_for(state, request.order, request.at, config)
    if order is None:
        return request._replace(order_at=-1, value_cents=0, products=())
    unit = {line.sku: line.unit_net_cents for line in order.lines}
    line_of = {line.sku: line for line in order.lines}
    returned = [line_of[r.sku] for r in request.lines if r.sku in line_of]
    if request.order_at < 0 and request.return_type == COMMERCIAL:
        _mark_returned(state, order, request.at)
        deltas.extend(_returned(returned, request.at // DAY))
    return request._replace(
        order_at=order.at,
        value_cents=sum(unit.get(line.sku, 0) * line.quantity for line in request.lines),
        products=tuple(sorted({line.product for line in returned})),
    )


def _match_returns_of(
    state: CustomerState, order: int, config: FeatureConfig, deltas: list[CatalogDelta]
) -> None:
    """An order that arrives after its return requests matches them now."""
    for index, request in enumerate(state.returns):
        if request.order == order:
            matched = _matched(state, request, config, deltas)
            if matched.order_at >= 0 and matched != request:
                state.returns[index] = matched
                _flag_repurchases(state, matched)


def _mark_returned(state: CustomerState, order: OrderRecord, at: int) -> None:
    """Note on a kept order when its first commercial return request was made."""
    index = state.orders.index(order)
    if order.returned_at < 0 or at < order.returned_at:
        state.orders[index] = order._replace(returned_at=at)


# --- what a customer's events add to the catalog (features/catalog.py) ---------------------

_SEEN = {Kind.TOUCH: TOUCHES, Kind.RECEIPT: RECEIPTS, Kind.PROFILE: PROFILES}


def _sold(order: OrderRecord) -> list[CatalogDelta]:
    day = order.at // DAY
    products = {line.product for line in order.lines}
    categories = {line.category for line in order.lines}
    return [
        *(CatalogDelta(product_key(p), day, SOLD) for p in sorted(products)),
        *(CatalogDelta(category_key(c), day, SOLD) for c in sorted(categories)),
        CatalogDelta(ALL, day, SOLD, len(products)),
    ]


def _returned(lines: list[OrderLine], day: int) -> list[CatalogDelta]:
    products = {line.product for line in lines}
    categories = {line.category for line in lines}
    if not products:
        return []
    return [
        *(CatalogDelta(product_key(p), day, RETURNED) for p in sorted(products)),
        *(CatalogDelta(category_key(c), day, RETURNED) for c in sorted(categories)),
        CatalogDelta(ALL, day, RETURNED, len(products)),
    ]


def _bought_returned(state: CustomerState, order: OrderRecord) -> bool:
    """Whether the order buys a product with a return request earlier than the order (from
    records; from tiles of earlier days)."""
    products = {line.product for line in order.lines}
    day = order.at // DAY
    if any(t.day < day and products.intersection(t.products) for t in state.return_tiles):
        return True
    return any(r.at < order.at and products.intersection(r.products) for r in state.returns)


def _flag_repurchases(state: CustomerState, request: ReturnRecord) -> None:
    """Kept orders later than a (newly matched) return request that buy a product it returned."""
    if not request.products:
        return
    returned = set(request.products)
    start = bisect.bisect_right(state.orders, request.at, key=lambda o: o.at)
    for index in range(start, len(state.orders)):
        order = state.orders[index]
        if not order.repurchase and any(line.product in returned for line in order.lines):
            state.orders[index] = order._replace(repurchase=True)
