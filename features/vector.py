"""Reading a feature vector: the customer's state as of a moment, plus the order being scored.

Pure code, no I/O, shared by the stream and the offline replay. Only records strictly earlier
than the scoring moment count, so state that already holds later events (they arrived first)
reads exactly as it would have at that moment.

Windows are read at day grain (see features/state.py): a window of W days read at `at`
counts what happened strictly before `at` on the day of `at` and on the W whole UTC days
before it. Records and day tiles are summed alike, so a value never depends on whether a day
has been folded into its tile yet.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from features.basket import BASKET_FEATURE_NAMES, basket_features
from features.catalog import NO_CATALOG, RECEIPTS, TOUCHES, Catalog
from features.config import FeatureConfig
from features.order import ORDER_FEATURE_NAMES, order_features
from features.registry import CATEGORICAL, FEATURE_NAMES
from features.state import (
    ACTIONS,
    CHANNELS,
    RESOLUTIONS,
    TIERS,
    CustomerState,
    OrderLine,
    OrderTile,
    ReceiptTile,
    Record,
    ReturnTile,
    Tile,
    merge_tiles,
    order_for,
    order_lines,
    short_hash,
    tile_of,
)
from features.units import DAY, epoch
from schemas import OrderPlaced, ReturnRequested
from schemas.common import Resolution, TouchAction

Value = float | str | None
FeatureValues = dict[str, Value]

NAN = math.nan
T = TypeVar("T", OrderTile, ReturnTile, ReceiptTile)
_ACTION_PRIORITY = {
    ACTIONS.index(TouchAction.CLICK): 2,
    ACTIONS.index(TouchAction.OPEN): 1,
    ACTIONS.index(TouchAction.IMPRESSION): 0,
}
_CLICK = ACTIONS.index(TouchAction.CLICK)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else NAN


def _smoothed(returned: float, bought: float, weight: float, prior: float) -> float:
    """Beta-binomial style smoothing: a customer with little history sits near the prior."""
    return (returned + prior * weight) / (bought + weight)


class _Days(Generic[T]):
    """One kind's history as of `at`, as day tiles: the kept tiles of earlier days and the
    records strictly before `at` folded by day. Records and tiles are summed alike, so a
    value never depends on whether a day has been folded into its tile yet."""

    def __init__(self, records: Sequence[Record], tiles: Sequence[T], at: int, empty: T) -> None:
        self.day = at // DAY
        self.empty: T = empty
        by_day: dict[int, Tile] = {t.day: t for t in tiles if t.day < self.day}
        for record in records:
            if record.at < at:
                tile = tile_of(record, at)
                known = by_day.get(tile.day)
                by_day[tile.day] = tile if known is None else merge_tiles(known, tile)
        self.tiles: list[T] = [by_day[d] for d in sorted(by_day)]  # type: ignore[misc]
        self._suffixes: list[T] | None = None

    def sum(self, window: int) -> T:
        """Sum over the day of `at` and the `window` whole days before it (`day` is 0)."""
        since = self.day - window
        start = bisect.bisect_left(self.tiles, since, key=lambda t: t.day)
        return self._suffix_sums()[start]

    def _suffix_sums(self) -> list[T]:
        """Sums of the tiles from each one to the newest (the last entry: none), computed once:
        every window is a suffix, and a reading asks for several."""
        if self._suffixes is None:
            sums: list[Tile] = [self.empty]
            for tile in reversed(self.tiles):
                sums.append(merge_tiles(sums[-1], tile._replace(day=0)))
            self._suffixes = sums[::-1]  # type: ignore[assignment]
        return self._suffixes  # type: ignore[return-value]


_NO_ORDERS = OrderTile(0, 0, 0, 0, 0, 0, 0, 0, 0)
_NO_RETURNS = ReturnTile(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (0,) * len(RESOLUTIONS), (), -1)
_NO_RECEIPTS = ReceiptTile(0, 0, 0)
_LIFETIME = 1 << 30  # days: a window longer than anything a state keeps


@dataclass(frozen=True, slots=True)
class History:
    """A customer's orders, return requests and receipts as of a moment, by day."""

    orders: _Days[OrderTile]
    returns: _Days[ReturnTile]
    receipts: _Days[ReceiptTile]

    @classmethod
    def of(cls, state: CustomerState, at: int) -> History:
        return cls(
            _Days(state.orders, state.order_tiles, at, _NO_ORDERS),
            _Days(state.returns, state.return_tiles, at, _NO_RETURNS),
            _Days(state.receipts, state.receipt_tiles, at, _NO_RECEIPTS),
        )


def purchase_features(
    state: CustomerState, history: History, at: int, config: FeatureConfig
) -> FeatureValues:
    values: FeatureValues = {}
    for window in (7, 30, 90, 365):
        sums = history.orders.sum(window)
        values[f"orders_count_{window}d"] = float(sums.orders)
        if window >= 30:
            values[f"items_sum_{window}d"] = float(sums.items)
            values[f"gross_spend_sum_{window}d"] = sums.gross_cents / 100
    recent = history.orders.sum(365)
    values["order_value_mean_365d"] = _share(recent.gross_cents / 100, recent.orders)
    values["discount_share_365d"] = _share(recent.discount_cents, recent.gross_cents)
    kept = history.orders.sum(_LIFETIME)
    lifetime = state.expired_orders + kept.orders
    values["orders_count_lifetime"] = float(lifetime)
    first = state.first_order_at if state.first_order_at is not None and lifetime else None
    tenure = (at - first) / DAY if first is not None and first < at else NAN
    last = kept.last_at if kept.orders else state.last_expired_order_at
    since_last = (at - last) / DAY if last is not None else NAN
    values["tenure_days"] = tenure
    values["days_since_last_order"] = since_last
    values["lifecycle_stage"] = _lifecycle(tenure, since_last, recent.orders, config)
    return values


def _lifecycle(tenure: float, since_last: float, orders_365d: int, config: FeatureConfig) -> str:
    if math.isnan(tenure) or tenure < config.lifecycle_new_days:
        return "new"
    if since_last >= config.lifecycle_lapsed_days:
        return "lapsed"
    if orders_365d >= config.lifecycle_loyal_orders_365d:
        return "loyal"
    return "active"


def order_return_features(history: History, at: int, config: FeatureConfig) -> FeatureValues:
    """Return history counted in orders: what a returns team looks at first."""
    year = history.orders.sum(365)
    young = history.orders.sum(config.order_maturity_days - 1)
    matured, returned = year.orders - young.orders, year.returned - young.returned
    weight = config.order_return_prior_weight
    last = history.returns.sum(_LIFETIME).last_at
    return {
        "returned_orders_count_365d": float(year.returned),
        "returned_orders_rate_365d": _smoothed(returned, matured, weight, config.return_rate_prior),
        "days_since_last_return": (at - last) / DAY if last >= 0 else NAN,
    }


def return_features(
    history: History, config: FeatureConfig, receipts_seen: bool = True
) -> FeatureValues:
    values: FeatureValues = {}
    prior, weight = config.return_rate_prior, config.return_rate_prior_weight
    for window in (30, 90, 365):
        returned = history.returns.sum(window)
        values[f"return_requests_count_{window}d"] = float(returned.commercial)
        if window == 30:
            continue
        bought = history.orders.sum(window)
        values[f"returned_items_sum_{window}d"] = float(returned.items)
        values[f"returned_value_sum_{window}d"] = returned.value_cents / 100
        values[f"returned_items_rate_{window}d"] = _smoothed(
            returned.items, bought.items, weight, prior
        )
        values[f"returned_value_rate_{window}d"] = _smoothed(
            returned.value_cents,
            bought.gross_cents - bought.discount_cents,
            weight * config.return_rate_prior_item_value * 100,
            prior,
        )
    year = history.returns.sum(365)
    values["order_to_return_days_mean_365d"] = _share(year.delay_s / DAY, year.delays)
    total_items = year.fit + year.quality + year.other
    values["return_reason_fit_share_365d"] = _share(year.fit, total_items)
    values["return_reason_quality_share_365d"] = _share(year.quality, total_items)
    values["return_reason_other_share_365d"] = _share(year.other, total_items)
    for resolution in (Resolution.REFUND, Resolution.STORE_CREDIT, Resolution.EXCHANGE):
        values[f"resolution_{resolution.value}_share_365d"] = _share(
            year.resolutions[RESOLUTIONS.index(resolution)], year.commercial
        )
    receipts = history.receipts.sum(365)
    values["received_worn_count_365d"] = float(receipts.worn) if receipts_seen else NAN
    values["received_damaged_count_365d"] = float(receipts.damaged) if receipts_seen else NAN
    values["service_returns_count_365d"] = float(year.service)
    values["end_of_life_returns_count_365d"] = float(year.end_of_life)
    return values


def behaviour_features(history: History) -> FeatureValues:
    year = history.orders.sum(365)
    return {
        "bracketing_orders_count_365d": float(year.bracketing),
        "repurchase_after_return_count_365d": float(year.repurchases),
    }


def marketing_features(state: CustomerState, at: int, touches_seen: bool = True) -> FeatureValues:
    """Touches of the 7 days before; missing (not zero) where no touch was ever seen."""
    since = at - 7 * DAY
    touches = [t for t in state.touches if since <= t.at < at]
    counts = Counter((t.channel, t.action == _CLICK) for t in touches)
    values: FeatureValues = {}
    for index, channel in enumerate(CHANNELS):
        clicks, views = counts[(index, True)], counts[(index, False)]
        values[f"touch_clicks_{channel.value}_count_7d"] = float(clicks) if touches_seen else NAN
        values[f"touch_views_{channel.value}_count_7d"] = float(views) if touches_seen else NAN
    last = max(touches, key=lambda t: (_ACTION_PRIORITY[t.action], t.at, t.event), default=None)
    values["last_touch_channel"] = CHANNELS[last.channel].value if last else None
    values["last_touch_campaign"] = last.campaign if last else None
    values["last_touch_discount_pct"] = (
        last.discount_bp / 100 if last and last.discount_bp >= 0 else NAN
    )
    values["last_touch_age_hours"] = (at - last.at) / 3600 if last else NAN
    return values


def profile_features(state: CustomerState, at: int) -> FeatureValues:
    profile = next((p for p in reversed(state.profiles) if p.at < at), None)
    if profile is None:
        return {
            "loyalty_tier": None,
            "is_staff": NAN,
            "account_age_days": NAN,
            "country": None,
            "email_opt_in": NAN,
        }
    return {
        "loyalty_tier": TIERS[profile.tier].value,
        "is_staff": float(profile.staff),
        "account_age_days": (at - profile.signup_at) / DAY,
        "country": profile.country,
        "email_opt_in": float(profile.email_opt_in),
    }


def profile_attributes(state: CustomerState, at: int) -> dict[str, str | bool | int | float]:
    """Custom profile attributes as of a moment, passed through for segment rules."""
    profile = next((p for p in reversed(state.profiles) if p.at < at), None)
    return dict(profile.attributes) if profile else {}


def basket_values(
    state: CustomerState,
    lines: Sequence[OrderLine],
    order: int,
    at: int,
    catalog: Catalog,
    config: FeatureConfig,
) -> FeatureValues:
    """A basket read at `at` (features/basket.py): the catalog's days before, and the products
    of the customer's other orders of the `repeat_window_days` before."""
    since = at - config.repeat_window_days * DAY
    bought = {
        line.product
        for o in state.orders
        if since <= o.at < at and o.order != order
        for line in o.lines
    }
    return dict(basket_features(lines, bought, at // DAY, catalog, config))


def customer_features(
    state: CustomerState, at: int, config: FeatureConfig, catalog: Catalog = NO_CATALOG
) -> FeatureValues:
    """Every customer-level feature as of a moment, from strictly earlier events; features of
    a kind the catalog has never seen an event of are missing."""
    history = History.of(state, at)
    day = at // DAY
    return {
        **purchase_features(state, history, at, config),
        **return_features(history, config, catalog.has_seen(RECEIPTS, day)),
        **order_return_features(history, at, config),
        **behaviour_features(history),
        **marketing_features(state, at, catalog.has_seen(TOUCHES, day)),
        **profile_features(state, at),
    }


def feature_values(
    state: CustomerState, order: OrderPlaced, config: FeatureConfig, catalog: Catalog = NO_CATALOG
) -> FeatureValues:
    """Every feature for one order, as of the moment it was placed."""
    at = epoch(order.occurred_at)
    values = customer_features(state, at, config, catalog)
    values.update(order_features(order, config))
    lines = order_lines(order)
    values.update(basket_values(state, lines, short_hash(order.order_id), at, catalog, config))
    return {name: values[name] for name in FEATURE_NAMES}


def return_request_values(
    state: CustomerState,
    request: ReturnRequested,
    config: FeatureConfig,
    catalog: Catalog = NO_CATALOG,
) -> FeatureValues:
    """Features for a return request: the customer as of the request, and the order being
    returned as it was placed (missing when that order is unknown or was placed more than
    `return_match_days` before the request)."""
    at = epoch(request.occurred_at)
    values = customer_features(state, at, config, catalog)
    returned = order_for(state, short_hash(request.order_id), at, config)
    values.update(
        basket_values(state, returned.lines, returned.order, at, catalog, config)
        if returned
        else dict.fromkeys(BASKET_FEATURE_NAMES, NAN)
    )
    stored = returned.features if returned else (None,) * len(ORDER_FEATURE_NAMES)
    for name, value in zip(ORDER_FEATURE_NAMES, stored, strict=True):
        values[name] = (
            NAN
            if value is None and name not in CATEGORICAL
            else (float(value) if isinstance(value, int) else value)
        )
    return {name: values[name] for name in FEATURE_NAMES}
