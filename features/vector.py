"""Reading a feature vector: the customer's state as of a moment, plus the order being scored.

Pure code, no I/O, shared by the stream and the offline replay. Only records strictly earlier
than the scoring moment count, so state that already holds later events (they arrived first)
reads exactly as it would have at that moment.
"""

from __future__ import annotations

import math
from collections import Counter

from features.config import FeatureConfig
from features.order import ORDER_FEATURE_NAMES, order_features
from features.registry import CATEGORICAL, FEATURE_NAMES
from features.state import (
    ACTIONS,
    CHANNELS,
    REASONS,
    RESOLUTIONS,
    RETURN_TYPES,
    TIERS,
    CustomerState,
    OrderRecord,
    short_hash,
)
from features.units import DAY, epoch
from schemas import OrderPlaced, ReturnRequested
from schemas.common import ReasonCode, Resolution, ReturnType, TouchAction

Value = float | str | None
FeatureValues = dict[str, Value]

NAN = math.nan
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
_COMMERCIAL = RETURN_TYPES.index(ReturnType.COMMERCIAL)
_SERVICE = RETURN_TYPES.index(ReturnType.SERVICE)
_END_OF_LIFE = RETURN_TYPES.index(ReturnType.END_OF_LIFE)
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


def purchase_features(state: CustomerState, at: int, config: FeatureConfig) -> FeatureValues:
    orders = [o for o in state.orders if o.at < at]
    values: FeatureValues = {}
    for window in (7, 30, 90, 365):
        since = at - window * DAY
        in_window = [o for o in orders if o.at >= since]
        values[f"orders_count_{window}d"] = float(len(in_window))
        if window >= 30:
            values[f"items_sum_{window}d"] = float(sum(o.items for o in in_window))
            values[f"gross_spend_sum_{window}d"] = sum(o.gross_cents for o in in_window) / 100
    recent = [o for o in orders if o.at >= at - 365 * DAY]
    gross = sum(o.gross_cents for o in recent)
    values["order_value_mean_365d"] = _share(gross / 100, len(recent))
    values["discount_share_365d"] = _share(sum(o.discount_cents for o in recent), gross)
    lifetime = state.expired_orders + len(orders)
    values["orders_count_lifetime"] = float(lifetime)
    first = state.first_order_at if state.first_order_at is not None and lifetime else None
    tenure = (at - first) / DAY if first is not None and first < at else NAN
    last = orders[-1].at if orders else state.last_expired_order_at
    since_last = (at - last) / DAY if last is not None else NAN
    values["tenure_days"] = tenure
    values["days_since_last_order"] = since_last
    values["lifecycle_stage"] = _lifecycle(tenure, since_last, len(recent), config)
    return values


def _lifecycle(tenure: float, since_last: float, orders_365d: int, config: FeatureConfig) -> str:
    if math.isnan(tenure) or tenure < config.lifecycle_new_days:
        return "new"
    if since_last >= config.lifecycle_lapsed_days:
        return "lapsed"
    if orders_365d >= config.lifecycle_loyal_orders_365d:
        return "loyal"
    return "active"


def return_features(state: CustomerState, at: int, config: FeatureConfig) -> FeatureValues:
    orders = {o.order: o for o in state.orders}
    requests = [r for r in state.returns if r.at < at and r.at >= at - 365 * DAY]
    commercial = [r for r in requests if r.return_type == _COMMERCIAL]
    values: FeatureValues = {}
    bought_items = {w: 0 for w in (90, 365)}
    bought_cents = {w: 0 for w in (90, 365)}
    for order in state.orders:
        if order.at < at:
            for window in (90, 365):
                if order.at >= at - window * DAY:
                    bought_items[window] += order.items
                    bought_cents[window] += order.gross_cents - order.discount_cents
    for window in (30, 90, 365):
        since = at - window * DAY
        in_window = [r for r in commercial if r.at >= since]
        values[f"return_requests_count_{window}d"] = float(len(in_window))
        if window == 30:
            continue
        items = sum(line.quantity for r in in_window for line in r.lines)
        value_cents = sum(_returned_cents(r.lines, orders.get(r.order)) for r in in_window)
        values[f"returned_items_sum_{window}d"] = float(items)
        values[f"returned_value_sum_{window}d"] = value_cents / 100
        prior, weight = config.return_rate_prior, config.return_rate_prior_weight
        values[f"returned_items_rate_{window}d"] = _smoothed(
            items, bought_items[window], weight, prior
        )
        values[f"returned_value_rate_{window}d"] = _smoothed(
            value_cents,
            bought_cents[window],
            weight * config.return_rate_prior_item_value * 100,
            prior,
        )
    delays = [
        (r.at - orders[r.order].at) / DAY
        for r in commercial
        if r.order in orders and orders[r.order].at <= r.at
    ]
    values["order_to_return_days_mean_365d"] = _share(sum(delays), len(delays))
    reasons = Counter[str]()
    for request in commercial:
        for line in request.lines:
            group = (
                "fit" if line.reason in _FIT else "quality" if line.reason in _QUALITY else "other"
            )
            reasons[group] += line.quantity
    total_items = sum(reasons.values())
    for group in ("fit", "quality", "other"):
        values[f"return_reason_{group}_share_365d"] = _share(reasons[group], total_items)
    resolutions = Counter(r.resolution for r in commercial)
    for resolution in (Resolution.REFUND, Resolution.STORE_CREDIT, Resolution.EXCHANGE):
        values[f"resolution_{resolution.value}_share_365d"] = _share(
            resolutions[RESOLUTIONS.index(resolution)], len(commercial)
        )
    receipts = [r for r in state.receipts if at - 365 * DAY <= r.at < at]
    values["received_worn_count_365d"] = float(sum(r.worn for r in receipts))
    values["received_damaged_count_365d"] = float(sum(r.damaged for r in receipts))
    values["service_returns_count_365d"] = float(
        sum(1 for r in requests if r.return_type == _SERVICE)
    )
    values["end_of_life_returns_count_365d"] = float(
        sum(1 for r in requests if r.return_type == _END_OF_LIFE)
    )
    return values


def _returned_cents(lines: tuple, order: OrderRecord | None) -> int:  # type: ignore[type-arg]
    if order is None:
        return 0
    unit = {line.sku: line.unit_net_cents for line in order.lines}
    return sum(unit.get(line.sku, 0) * line.quantity for line in lines)


def behaviour_features(state: CustomerState, at: int) -> FeatureValues:
    orders = [o for o in state.orders if at - 365 * DAY <= o.at < at]
    by_id = {o.order: o for o in state.orders}
    first_returned: dict[int, int] = {}  # product -> first return request for it
    for request in state.returns:
        returned_order = by_id.get(request.order)
        if returned_order is None:
            continue
        product_of = {line.sku: line.product for line in returned_order.lines}
        for line in request.lines:
            product = product_of.get(line.sku)
            if product is not None and request.at < first_returned.get(product, request.at + 1):
                first_returned[product] = request.at
    repurchases = sum(
        1
        for order in orders
        if any(first_returned.get(line.product, order.at) < order.at for line in order.lines)
    )
    return {
        "bracketing_orders_count_365d": float(sum(1 for o in orders if o.bracketing)),
        "repurchase_after_return_count_365d": float(repurchases),
    }


def marketing_features(state: CustomerState, at: int) -> FeatureValues:
    since = at - 7 * DAY
    touches = [t for t in state.touches if since <= t.at < at]
    counts = Counter((t.channel, t.action == _CLICK) for t in touches)
    values: FeatureValues = {}
    for index, channel in enumerate(CHANNELS):
        values[f"touch_clicks_{channel.value}_count_7d"] = float(counts[(index, True)])
        values[f"touch_views_{channel.value}_count_7d"] = float(counts[(index, False)])
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


def customer_features(state: CustomerState, at: int, config: FeatureConfig) -> FeatureValues:
    """Every customer-level feature as of a moment, from strictly earlier events."""
    return {
        **purchase_features(state, at, config),
        **return_features(state, at, config),
        **behaviour_features(state, at),
        **marketing_features(state, at),
        **profile_features(state, at),
    }


def feature_values(
    state: CustomerState, order: OrderPlaced, config: FeatureConfig
) -> FeatureValues:
    """Every feature for one order, as of the moment it was placed."""
    values = customer_features(state, epoch(order.occurred_at), config)
    values.update(order_features(order, config))
    return {name: values[name] for name in FEATURE_NAMES}


def return_request_values(
    state: CustomerState, request: ReturnRequested, config: FeatureConfig
) -> FeatureValues:
    """Features for a return request: the customer as of the request, and the order being
    returned as it was placed (missing when that order is older than the state keeps)."""
    values = customer_features(state, epoch(request.occurred_at), config)
    order_id = short_hash(request.order_id)
    returned = next((o for o in state.orders if o.order == order_id), None)
    stored = returned.features if returned else (None,) * len(ORDER_FEATURE_NAMES)
    for name, value in zip(ORDER_FEATURE_NAMES, stored, strict=True):
        values[name] = (
            NAN
            if value is None and name not in CATEGORICAL
            else (float(value) if isinstance(value, int) else value)
        )
    return {name: values[name] for name in FEATURE_NAMES}
