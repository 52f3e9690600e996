"""From an event log to the tables every section of the report reads.

- `orders`: one row per order in the selection (its period and `--filter`), with its segment,
  customer type, `--segment-by` groups, the touch it is attributed to and what came back.
- `return_lines`: one row per line of a return request for a selected order.
- `received_lines`: one row per line received back for a selected order.

Segments come from the features' own offline replay (`features.replay.replay_orders`): an
order's segment is decided on the features it had when it was placed, exactly as in training
and in the stream. Campaign touches are most of a log but only feed the marketing features,
so they are left out of the replay unless a rule, the filter or a grouping names one of those
(a test proves the other features come out identical).

What counts as returned (the definitions the report prints, see `analytics.definitions`):
an order is returned when a commercial return was requested for it (at any time in the log);
its returned items are the items requested back on commercial requests, never more per SKU
than the order bought (a second request for an item already requested does not count it
twice); their value is the net price paid (after line discounts). Service (warranty, repair)
and end-of-life (take-back) returns are kept apart, as in the features, and only show in the
return type mix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.attribution import TouchIndex
from analytics.segmentation import (
    CUSTOMER_TYPE,
    CUSTOMER_TYPE_ORDER,
    SEGMENT,
    SegmentPlan,
    customer_type,
    group_label,
)
from features.config import FeatureConfig
from features.replay import InvalidLine, read_log, replay_orders
from features.units import cents, epoch
from models.segments import segment_row
from schemas import (
    CampaignTouch,
    CustomerUpdated,
    InputEvent,
    OrderPlaced,
    ReturnReceived,
    ReturnRequested,
)
from schemas.common import ReturnType

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total); stages: 'read', 'replay'."""

MAX_GROUPS = 25
"""A grouping attribute with more values keeps its largest groups and pools the rest."""
OTHER = "(other)"
_ASSIGN_BATCH = 4096
_READ_REPORT_BYTES = 4 << 20


def read_events(
    path: Path, progress: Progress | None = None
) -> tuple[list[InputEvent], list[InvalidLine]]:
    """`features.replay.read_log` (same validation, same order), reporting bytes read."""
    total = path.stat().st_size
    done = reported = 0

    def on_line(size: int) -> None:
        nonlocal done, reported
        done += size
        if progress and done - reported >= _READ_REPORT_BYTES:
            reported = done
            progress("read", done, total)

    events, invalid = read_log(path, on_line)
    if progress:
        progress("read", total, total)
    return events, invalid


@dataclass(frozen=True)
class Selection:
    """Which orders the report is about, and how far back a touch is credited."""

    start: date | None = None
    end: date | None = None
    """Inclusive: orders placed on this day (UTC) are in."""
    attribution_window_days: float = 7.0

    def contains(self, placed: datetime) -> bool:
        day = placed.date()
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


@dataclass
class LogCounts:
    """How much of the log went where; printed so nothing disappears silently."""

    events: int = 0
    invalid_lines: int = 0
    orders_in_log: int = 0
    duplicate_orders: int = 0
    orders_selected: int = 0
    return_requests: int = 0
    duplicate_return_requests: int = 0
    returns_for_unknown_orders: int = 0
    receipts_for_unknown_orders: int = 0
    requested_items_over_bought: int = 0
    """Items requested back beyond what the order bought of that SKU (not counted)."""


@dataclass
class Tables:
    orders: pd.DataFrame
    return_lines: pd.DataFrame
    received_lines: pd.DataFrame
    dimensions: dict[str, str]
    """Dimension name (segment, customer_type, each --segment-by) -> column of `orders`."""
    group_order: dict[str, list[str]]
    """Each dimension's groups in display order."""
    counts: LogCounts
    plan: SegmentPlan
    log_start: datetime | None
    log_end: datetime | None
    period: tuple[date, date] | None
    """First and last day the report covers: the selection within the log."""


@dataclass
class _Split:
    replay: list[InputEvent] = field(default_factory=list)
    touches: TouchIndex = field(default_factory=TouchIndex)
    requests: list[ReturnRequested] = field(default_factory=list)
    receipts: list[ReturnReceived] = field(default_factory=list)
    attribute_names: set[str] = field(default_factory=set)
    order_ids: set[str] = field(default_factory=set)
    orders: int = 0


def _split(events: Sequence[InputEvent], with_touches: bool) -> _Split:
    split = _Split()
    for event in events:
        if isinstance(event, CampaignTouch):
            split.touches.add(event)
            if not with_touches:
                continue
        elif isinstance(event, OrderPlaced):
            split.orders += 1
            split.order_ids.add(event.order_id)
        elif isinstance(event, ReturnRequested):
            split.requests.append(event)
        elif isinstance(event, ReturnReceived):
            split.receipts.append(event)
        elif isinstance(event, CustomerUpdated):
            split.attribute_names.update(event.attributes)
        split.replay.append(event)
    split.touches.freeze()
    return split


ORDER_COLUMNS = (
    *("order_id", "customer_id", "at", "currency", "items", "value_cents", CUSTOMER_TYPE),
    "loyalty_tier",
    *("touch_channel", "touch_campaign", "touch_action"),
)
LINE_COLUMNS = ("order_id", "sku", "items", "cents")
RETURN_COLUMNS = ("return_id", "order_id", "at", "return_type", "sku", "requested", "reason")
RECEIVED_COLUMNS = ("return_id", "order_id", "at", "sku", "items", "condition")
INTEGER_COLUMNS = frozenset({"at", "items", "value_cents", "cents", "requested"})


def _frame(records: Sequence[tuple[object, ...]], columns: Sequence[str]) -> pd.DataFrame:
    """Records as a frame whose counts and times are int64 even when there are none."""
    frame = pd.DataFrame.from_records(records, columns=list(columns))
    return frame.astype({c: "int64" for c in columns if c in INTEGER_COLUMNS})


class _OrderRecords:
    """Selected orders and their lines as records; segments assigned in batches."""

    def __init__(self, plan: SegmentPlan) -> None:
        self.plan = plan
        self.orders: list[tuple[object, ...]] = []
        self.lines: list[tuple[str, str, int, int]] = []
        self.segments: list[str] = []
        self._pending: list[dict[str, object]] = []

    def add(
        self, order: OrderPlaced, row: dict[str, object], touches: TouchIndex, window: float
    ) -> None:
        at = epoch(order.occurred_at)
        items = value = 0
        for line in order.lines:
            gross = cents(line.unit_price) * line.quantity
            net = gross - min(cents(line.discount_amount), gross)
            items += line.quantity
            value += net
            self.lines.append((order.order_id, line.sku, line.quantity, net))
        touch = touches.last_touch(order.customer_id, at, window)
        self.orders.append(
            (
                *(order.order_id, order.customer_id, at, order.currency, items, value),
                customer_type(row),
                group_label(row.get("loyalty_tier")),
                *(
                    (str(touch.channel), touch.campaign, str(touch.action))
                    if touch
                    else (None,) * 3
                ),
                *(group_label(row.get(name)) for name in self.plan.segment_by),
            )
        )
        self._pending.append(row)
        if len(self._pending) >= _ASSIGN_BATCH:
            self.flush()

    def flush(self) -> None:
        """Assign the pending rows their segments (one `Segments.assign` call per batch)."""
        if self._pending:
            self.segments += self.plan.segments.assign(self._pending)
            self._pending = []

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.flush()
        columns = [*ORDER_COLUMNS, *(f"by:{name}" for name in self.plan.segment_by)]
        orders = _frame(self.orders, columns)
        orders.insert(len(ORDER_COLUMNS), SEGMENT, self.segments)
        return orders, _frame(self.lines, LINE_COLUMNS)


def build_tables(
    events: Sequence[InputEvent],
    plan: SegmentPlan,
    selection: Selection,
    config: FeatureConfig | None = None,
    progress: Progress | None = None,
) -> Tables:
    """Replay the log and lay out the selected orders, their returns and receipts.

    Raises a `ValueError` when a segment rule, the filter or a grouping names something that
    is neither a feature nor a profile attribute of this log.
    """
    split = _split(events, plan.needs_touches)
    plan = plan.checked(split.attribute_names)
    counts = LogCounts(events=len(events), orders_in_log=split.orders)
    collected = _collect_orders(split, plan, selection, config or FeatureConfig(), counts, progress)
    orders, order_lines = collected.frames()
    counts.orders_selected = len(orders)
    selected = set(orders["order_id"])
    return_lines = _return_lines(split, selected, split.order_ids, counts)
    received = _received_lines(split, selected, split.order_ids, counts)
    orders, return_lines = _count_returns(orders, order_lines, return_lines, counts)
    dimensions = {SEGMENT: SEGMENT, CUSTOMER_TYPE: CUSTOMER_TYPE}
    for name in plan.segment_by:
        dimensions[name] = f"by:{name}"
        orders[dimensions[name]] = _pool_rare(orders[dimensions[name]])
    group_order = _group_order(orders, dimensions, plan)
    return Tables(
        orders=orders,
        return_lines=return_lines,
        received_lines=received,
        dimensions=dimensions,
        group_order=group_order,
        counts=counts,
        plan=plan,
        log_start=events[0].occurred_at if events else None,
        log_end=events[-1].occurred_at if events else None,
        period=_period(events, selection),
    )


def _collect_orders(
    split: _Split,
    plan: SegmentPlan,
    selection: Selection,
    config: FeatureConfig,
    counts: LogCounts,
    progress: Progress | None,
) -> _OrderRecords:
    """Replay the orders; keep each order once, if it is in the period and the filter."""
    collected = _OrderRecords(plan)
    seen: set[str] = set()
    for done, (order, values, attributes) in enumerate(replay_orders(split.replay, config), 1):
        if progress and done % 2000 == 0:
            progress("replay", done, split.orders)
        if order.order_id in seen:  # the same order sent twice
            counts.duplicate_orders += 1
            continue
        seen.add(order.order_id)
        if not selection.contains(order.occurred_at):
            continue
        row = segment_row(values, attributes)
        if plan.filter is None or plan.filter.matches(row):
            collected.add(order, row, split.touches, selection.attribution_window_days)
    if progress:
        progress("replay", split.orders, split.orders)
    return collected


def _period(events: Sequence[InputEvent], selection: Selection) -> tuple[date, date] | None:
    if not events:
        return None
    first, last = events[0].occurred_at.date(), events[-1].occurred_at.date()
    return max(first, selection.start or first), min(last, selection.end or last)


def _return_lines(
    split: _Split, selected: set[str], known: set[str], counts: LogCounts
) -> pd.DataFrame:
    records = []
    seen: set[str] = set()
    for request in split.requests:
        if request.return_id in seen:  # the same return sent twice
            counts.duplicate_return_requests += 1
            continue
        seen.add(request.return_id)
        counts.return_requests += 1
        if request.order_id not in known:
            counts.returns_for_unknown_orders += 1
        elif request.order_id in selected:
            head = (request.return_id, request.order_id, epoch(request.occurred_at))
            kind = str(request.return_type)
            records += [
                (*head, kind, line.sku, line.quantity, str(line.reason_code))
                for line in request.lines
            ]
    return _frame(records, RETURN_COLUMNS)


def _received_lines(
    split: _Split, selected: set[str], known: set[str], counts: LogCounts
) -> pd.DataFrame:
    records = []
    seen: set[str] = set()
    for receipt in split.receipts:
        if receipt.event_id in seen:
            continue
        seen.add(receipt.event_id)
        if receipt.order_id not in known:
            counts.receipts_for_unknown_orders += 1
        elif receipt.order_id in selected:
            head = (receipt.return_id, receipt.order_id, epoch(receipt.occurred_at))
            records += [
                (*head, line.sku, line.quantity, str(line.condition)) for line in receipt.lines
            ]
    return _frame(records, RECEIVED_COLUMNS)


def _count_returns(
    orders: pd.DataFrame, order_lines: pd.DataFrame, lines: pd.DataFrame, counts: LogCounts
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Count each commercial return line's items, never past what the order bought of the
    SKU (earlier requests first), and roll the counts up to the orders."""
    bought = order_lines.groupby(["order_id", "sku"], sort=False).agg(
        bought=("items", "sum"), bought_cents=("cents", "sum")
    )
    lines = lines.sort_values(["at", "return_id"], kind="stable").reset_index(drop=True)
    commercial = lines["return_type"] == ReturnType.COMMERCIAL.value
    joined = lines.join(bought, on=["order_id", "sku"])
    available = joined["bought"].fillna(0).to_numpy(dtype=np.float64)
    requested = joined["requested"].to_numpy(dtype=np.float64) * commercial.to_numpy()
    before = (
        pd.Series(requested).groupby([lines["order_id"], lines["sku"]]).cumsum().to_numpy()
        - requested
    )
    counted = np.clip(available - before, 0, None)
    counted = np.minimum(counted, requested)
    unit = np.divide(
        joined["bought_cents"].fillna(0).to_numpy(dtype=np.float64),
        available,
        out=np.zeros(len(lines)),
        where=available > 0,
    )
    lines["counted"] = counted.astype(np.int64)
    lines["counted_cents"] = counted * unit
    counts.requested_items_over_bought = int(requested.sum() - counted.sum())
    per_order = (
        lines[commercial]
        .groupby("order_id")
        .agg(
            return_requests=("return_id", "nunique"),
            returned_items=("counted", "sum"),
            returned_cents=("counted_cents", "sum"),
        )
    )
    orders = orders.join(per_order, on="order_id")
    orders[["return_requests", "returned_items"]] = (
        orders[["return_requests", "returned_items"]].fillna(0).astype(np.int64)
    )
    orders["returned_cents"] = orders["returned_cents"].fillna(0.0)
    orders["returned"] = orders["return_requests"] > 0
    return orders, lines


def _pool_rare(column: pd.Series) -> pd.Series:
    """Keep the `MAX_GROUPS - 1` largest groups of an attribute, pool the rest as OTHER."""
    sizes = column.value_counts()
    if len(sizes) <= MAX_GROUPS:
        return column
    return column.where(column.isin(set(sizes.index[: MAX_GROUPS - 1])), OTHER)


def _group_order(
    orders: pd.DataFrame, dimensions: dict[str, str], plan: SegmentPlan
) -> dict[str, list[str]]:
    """Segments in rule order, customer types new-returning-loyal, others largest first."""
    order: dict[str, list[str]] = {}
    for dimension, column in dimensions.items():
        present = orders[column].value_counts()
        if dimension == SEGMENT:
            order[dimension] = [name for name in plan.segments.names if name in present.index]
        elif dimension == CUSTOMER_TYPE:
            known = [name for name in CUSTOMER_TYPE_ORDER if name in present.index]
            order[dimension] = known + sorted(set(present.index) - set(known))
        else:
            groups = [g for g in present.index if g != OTHER]
            order[dimension] = groups + ([OTHER] if OTHER in present.index else [])
    return order
