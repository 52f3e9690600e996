"""Offline replay: a point-in-time-correct training set from an event log.

Each order gets the features it had at the moment it was placed, from earlier events only,
computed by the very functions the stream runs (`apply_event`, `feature_values`), and a label:
was a return of a counted type requested for any of its lines within the label window?
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.catalog import Catalog, CatalogDelta
from features.config import FeatureConfig
from features.registry import CATEGORICAL, FEATURE_NAMES, feature_set_hash
from features.state import CustomerState, apply_event
from features.units import DAY, epoch
from features.vector import feature_values, profile_attributes
from schemas import EventValidationError, InputEvent, OrderPlaced, ReturnRequested, decode_event
from schemas.common import ReturnType

ID_COLUMNS = ("order_id", "customer_id", "event_id", "occurred_at")
LABEL_COLUMNS = ("label", "label_complete")


@dataclass(frozen=True, slots=True)
class InvalidLine:
    line_number: int
    error: EventValidationError


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause cyclic garbage collection while a log is loaded or replayed.

    A million long-lived events make every full collection walk all of them again; with the
    collector paused the same load runs about three times faster. Events hold no reference
    cycles, so nothing piles up meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class UnusableLog(ValueError):
    """A log without a single valid event: empty, wholly invalid, or a file of another kind
    (a CSV, a Parquet table). Everything built from it would be empty, so it is refused."""


def read_log(
    path: Path, on_line: Callable[[int], None] | None = None
) -> tuple[list[InputEvent], list[InvalidLine]]:
    """Every valid event of a JSON-lines log in event-time order, and the invalid lines.

    Raises `UnusableLog` when no line is a valid event.
    """
    events: list[tuple[datetime, int, InputEvent]] = []
    invalid = []
    with paused_gc(), path.open("rb") as log:
        for number, line in enumerate(log, start=1):
            if on_line:
                on_line(len(line))
            if not line.strip():
                continue
            try:
                event = decode_event(line)
            except EventValidationError as exc:
                invalid.append(InvalidLine(number, exc))
                continue
            events.append((event.occurred_at, number, event))
    if not events:
        raise UnusableLog(_unusable(path, invalid))
    events.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in events], invalid


def require_an_event(path: Path) -> None:
    """Raise `UnusableLog` unless some line of `path` is a valid event. Reads only up to the
    first valid line, so a consumer that streams the log can check it first at no cost."""
    invalid = []
    with path.open("rb") as log:
        for number, line in enumerate(log, start=1):
            if not line.strip():
                continue
            try:
                decode_event(line)
            except EventValidationError as exc:
                invalid.append(InvalidLine(number, exc))
                continue
            return
    raise UnusableLog(_unusable(path, invalid))


def _unusable(path: Path, invalid: list[InvalidLine]) -> str:
    expected = "expected a JSON-lines event log, as `returnrisk simulate` writes"
    if not invalid:
        return f"{path}: no event in it (the file is empty); {expected}"
    first = invalid[0]
    return (
        f"{path}: none of its {len(invalid)} lines is a valid event "
        f"(line {first.line_number}: {first.error}); {expected}"
    )


@dataclass(frozen=True, slots=True)
class HolidayReturns:
    """The extended return window shops give holiday purchases (gifts come back after the
    holidays): orders placed from `start` to `end` (MM-DD) may be returned until `until`."""

    start: str = "11-15"
    end: str = "12-24"
    until: str = "01-31"

    def closes(self, placed: datetime) -> datetime | None:
        """When the extended window of an order placed at `placed` closes, if it has one."""
        day = placed.strftime("%m-%d")
        if not self.start <= day <= self.end:
            return None
        month, day_of_month = (int(part) for part in self.until.split("-"))
        year = placed.year + (1 if (month, day_of_month) < (placed.month, placed.day) else 0)
        return datetime(year, month, day_of_month, 23, 59, 59, tzinfo=placed.tzinfo)


@dataclass(frozen=True, slots=True)
class LabelRule:
    """An order is labelled returned when a return of a counted type is requested for any of
    its lines within `window_days`, or within the holiday window when that closes later."""

    window_days: int = 30
    return_types: frozenset[ReturnType] = frozenset({ReturnType.COMMERCIAL})
    holiday: HolidayReturns | None = HolidayReturns()

    def closes(self, placed: datetime) -> int:
        """Epoch second at which the order's label window closes."""
        regular = epoch(placed) + self.window_days * DAY
        extended = self.holiday.closes(placed) if self.holiday else None
        return max(regular, epoch(extended)) if extended else regular


def first_return_times(events: Iterable[InputEvent], rule: LabelRule) -> dict[str, int]:
    """For each order id, when the first return of a counted type was requested for it."""
    first: dict[str, int] = {}
    for event in events:
        if isinstance(event, ReturnRequested) and event.return_type in rule.return_types:
            at = epoch(event.occurred_at)
            first[event.order_id] = min(at, first.get(event.order_id, at))
    return first


def replay_orders(
    events: Iterable[InputEvent], config: FeatureConfig
) -> Iterator[
    tuple[OrderPlaced, dict[str, float | str | None], dict[str, str | bool | int | float]]
]:
    """Yield each order with its point-in-time features, replaying events in time order, with
    the whole catalog in memory."""
    states: dict[str, CustomerState] = {}
    catalog = Catalog()
    for event in events:
        state = states.get(event.customer_id)
        if state is None:
            state = states[event.customer_id] = CustomerState()
        if isinstance(event, OrderPlaced):
            at = epoch(event.occurred_at)
            values = feature_values(state, event, config, catalog)
            yield event, values, profile_attributes(state, at)
        deltas: list[CatalogDelta] = []
        apply_event(state, event, config, deltas=deltas)
        catalog.apply(deltas, config.grace_days)


def build_training_table(
    events: list[InputEvent],
    config: FeatureConfig,
    rule: LabelRule,
    on_order: Callable[[], None] | None = None,
) -> pa.Table:
    """One row per order: ids, features as of the order, label and whether its window closed."""
    returned_at = first_return_times(events, rule)
    log_end = epoch(events[-1].occurred_at) if events else 0
    columns: dict[str, list[object]] = {name: [] for name in (*ID_COLUMNS, *LABEL_COLUMNS)}
    columns.update({name: [] for name in FEATURE_NAMES})
    columns["attributes"] = []
    seen_orders: set[str] = set()
    with paused_gc():  # progress goes on: the replay is consumed as it runs
        for order, values, attributes in replay_orders(events, config):
            if order.order_id in seen_orders:  # the same order sent twice under two event ids
                continue
            seen_orders.add(order.order_id)
            at = epoch(order.occurred_at)
            closes = rule.closes(order.occurred_at)
            first_return = returned_at.get(order.order_id)
            columns["order_id"].append(order.order_id)
            columns["customer_id"].append(order.customer_id)
            columns["event_id"].append(order.event_id)
            columns["occurred_at"].append(order.occurred_at)
            columns["label"].append(int(first_return is not None and at <= first_return <= closes))
            columns["label_complete"].append(closes <= log_end)
            columns["attributes"].append(json.dumps(attributes, sort_keys=True))
            for name in FEATURE_NAMES:
                columns[name].append(values[name])
            if on_order:
                on_order()
    return pa.table(
        {name: pa.array(values, type=_arrow_type(name)) for name, values in columns.items()},
        metadata={
            b"returnrisk.feature_set_hash": feature_set_hash(config).encode(),
            b"returnrisk.feature_config": config.model_dump_json().encode(),
            b"returnrisk.label_window_days": str(rule.window_days).encode(),
            b"returnrisk.label_holiday_returns": (
                f"{rule.holiday.start}..{rule.holiday.end}->{rule.holiday.until}"
                if rule.holiday
                else "none"
            ).encode(),
            b"returnrisk.label_return_types": ",".join(sorted(rule.return_types)).encode(),
        },
    )


def _arrow_type(column: str) -> pa.DataType:
    if column == "occurred_at":
        return pa.timestamp("s", tz="UTC")
    if column == "label":
        return pa.int8()
    if column == "label_complete":
        return pa.bool_()
    if column == "attributes":
        return pa.string()
    if column in ID_COLUMNS or column in CATEGORICAL:
        return pa.dictionary(pa.int32(), pa.string())
    return pa.float64()


def write_training_table(table: pa.Table, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd")
