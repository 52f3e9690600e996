"""Reason codes: the features that moved a score most, in words a returns agent can read.

LightGBM's `pred_contrib` splits each raw score (log-odds) into one contribution per feature
plus a bias, exactly (they sum to the score). A row's reasons are the features that pushed it
furthest from the average in the direction it went: up for a row scored above the model's
average, down for one below. Each becomes a `Reason` with the feature name as the stable
code, a sentence built from the row's own values ("returned 4 of the last 6 orders", "3
sizes of one product in this order") and the contribution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from features.registry import FEATURES
from schemas.outputs import Reason

Getter = Callable[[str], object]
"""The row's value of a feature, by name."""

_DESCRIPTIONS = {spec.name: spec.description for spec in FEATURES}
_WORDS = {
    "bnpl": "buy now, pay later",
    "cash_on_delivery": "cash on delivery",
    "gift_card": "a gift card",
    "store_credit": "store credit",
    "bank_transfer": "bank transfer",
    "paid_social": "paid social",
    "paid_search": "paid search",
    "organic_social": "organic social",
}


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not math.isnan(value):
        return float(value)
    return None


def _count(value: float) -> str:
    return f"{value:.0f}"


def _s(value: float) -> str:
    """The plural ending for a count: '1 item', '3 items'."""
    return "" if round(value) == 1 else "s"


def _pct(share: float) -> str:
    return f"{share * 100:.0f} %"


def _words(value: object) -> str:
    text = str(value)
    return _WORDS.get(text, text.replace("_", " "))


def _generic(name: str, value: object) -> str:
    description = _DESCRIPTIONS.get(name, name.replace("_", " "))
    number = _number(value)
    if number is not None:
        shown = _count(number) if number == int(number) else f"{number:.2f}"
    else:
        shown = "unknown" if value is None or isinstance(value, float) else _words(value)
    return f"{description[0].lower()}{description[1:]}: {shown}"


def _touch(get: Getter) -> str:
    channel = get("last_touch_channel")
    if not isinstance(channel, str):
        return "no campaign touch in the 7 days before the order"
    clicks = _number(get(f"touch_clicks_{channel}_count_7d")) or 0.0
    text = f"came from a {_words(channel)} {'click' if clicks > 0 else 'message'}"
    discount = _number(get("last_touch_discount_pct"))
    return text + (f" with {discount:.0f} % off" if discount else "")


def _windowed(name: str, get: Getter) -> str | None:
    """Texts for the `{what}_{stat}_{window}d` families."""
    match = re.fullmatch(r"(.+)_(count|sum|rate)_(\d+)d", name)
    if match is None:
        return None
    what, stat, window = match.group(1), match.group(2), match.group(3)
    value = _number(get(name))
    if value is None:
        return None
    span = "the last year" if window == "365" else f"the last {window} days"
    orders = _number(get(f"orders_count_{window}d"))
    items = _number(get(f"items_sum_{window}d"))
    if what == "return_requests":
        if orders:
            return f"returned {_count(value)} of the last {_count(orders)} orders ({span})"
        return f"{_count(value)} return request{_s(value)} in {span}"
    if what == "returned_items":
        returned = _number(get(f"returned_items_sum_{window}d")) or 0.0
        if stat == "rate":
            bought = _count(items) if items is not None else "?"
            shown = f"{_pct(value)} smoothed"
            return f"sent back {_count(returned)} of {bought} items bought in {span} ({shown})"
        return f"sent back {_count(value)} item{_s(value)} in {span}"
    if what == "returned_value":
        if stat == "rate":
            return f"sends back about {_pct(value)} of what they spend ({span})"
        return f"sent back goods worth {value:.0f} in {span}"
    if what == "orders":
        return f"{_count(value)} order{_s(value)} in {span}"
    if what == "items":
        return f"{_count(value)} item{_s(value)} bought in {span}"
    if what == "gross_spend":
        return f"spent {value:.0f} in {span}"
    touch = re.fullmatch(r"touch_(clicks|views)_(.+)", what)
    if touch:
        kind = "click" if touch.group(1) == "clicks" else "view or open"
        kinds = kind.replace(" or ", "s or ") + _s(value) if value != 1 else kind
        return f"{_count(value)} {_words(touch.group(2))} {kinds} in the 7 days before the order"
    return None


def _share_text(name: str, value: float) -> str | None:
    shares = {
        "return_reason_fit_share_365d": "of past returned items were for size or fit",
        "return_reason_quality_share_365d": "of past returned items were damaged, faulty or wrong",
        "return_reason_other_share_365d": "of past returned items were a change of mind",
        "resolution_refund_share_365d": "of past return requests asked for a refund",
        "resolution_store_credit_share_365d": "of past return requests asked for store credit",
        "resolution_exchange_share_365d": "of past return requests asked for an exchange",
        "discount_share_365d": "of past spend was discounted",
        "order_fit_category_share": "of this order is clothing or shoes",
    }
    return f"{_pct(value)} {shares[name]}" if name in shares else None


_NUMBER_TEMPLATES = {
    "order_items": "{n} item{s} in this order",
    "order_distinct_products": "{n} different product{s} in this order",
    "order_max_sizes_per_product": "{n} size{s} of one product in this order",
    "order_max_colors_per_product": "{n} colour{s} of one product in this order",
    "order_gross_value": "order value {n}",
    "order_discount_depth": "{p} off this order",
    "tenure_days": "customer for {n} day{s}",
    "days_since_last_order": "last order {n} day{s} earlier",
    "account_age_days": "account opened {n} day{s} ago",
    "orders_count_lifetime": "{n} earlier order{s} in all",
    "order_value_mean_365d": "average order value {n} over the last year",
    "order_to_return_days_mean_365d": "asks to return {n} day{s} after ordering, on average",
    "received_worn_count_365d": "{n} returned item{s} came back worn (last year)",
    "received_damaged_count_365d": "{n} returned item{s} came back damaged (last year)",
    "service_returns_count_365d": "{n} warranty or repair return{s} (last year)",
    "end_of_life_returns_count_365d": "{n} take-back return{s} (last year)",
    "bracketing_orders_count_365d": "{n} past order{s} with several sizes or colours of a product",
    "repurchase_after_return_count_365d": "re-bought a returned product {n} time{s}",
    "last_touch_age_hours": "last campaign touch {n} hour{s} before the order",
}
_FLAGS = {
    "order_has_promo_code": ("used a promo code", "no promo code"),
    "is_staff": ("staff account", "not a staff account"),
    "email_opt_in": ("opted in to email", "not opted in to email"),
}
_CATEGORY_TEMPLATES = {
    "lifecycle_stage": "{v} customer",
    "loyalty_tier": "{v} loyalty tier",
    "country": "customer in {v}",
    "order_top_category": "mostly {v} in this order",
    "order_payment_method": "paid with {v}",
    "order_channel": "ordered via {v}",
    "order_price_tier": "{v}-priced items",
}
_CATEGORY_SPECIAL = {
    ("loyalty_tier", "none"): "no loyalty tier",
    ("order_channel", "store"): "bought in a store",
}


def _order_text(name: str, value: object, number: float | None) -> str | None:
    """Texts for single features of the order, the customer's profile and history."""
    if number is not None and name in _FLAGS:
        return _FLAGS[name][0 if number else 1]
    if number is not None and name in _NUMBER_TEMPLATES:
        return _NUMBER_TEMPLATES[name].format(n=_count(number), p=_pct(number), s=_s(number))
    if isinstance(value, str) and name in _CATEGORY_TEMPLATES:
        special = _CATEGORY_SPECIAL.get((name, value))
        return special or _CATEGORY_TEMPLATES[name].format(v=_words(value))
    return None


def reason_text(name: str, get: Getter) -> str:
    """A readable sentence for feature `name` of one row."""
    value = get(name)
    if name in {"last_touch_channel", "last_touch_campaign", "last_touch_discount_pct"}:
        return _touch(get)
    number = _number(value)
    text = _windowed(name, get)
    if text is None and number is not None:
        text = _share_text(name, number)
    if text is None:
        text = _order_text(name, value, number)
    if text is None and name == "days_since_last_order":
        text = "no earlier order"
    if text is None and name == "tenure_days":
        text = "first order"
    return text or _generic(name, value)


def top_reasons(
    contributions: npt.NDArray[np.float64], feature_names: tuple[str, ...], count: int = 3
) -> npt.NDArray[np.int64]:
    """Indices of each row's `count` strongest features in the direction of its score.

    `contributions` is LightGBM's `pred_contrib` output: one column per feature, then the
    bias. A stable sort keeps ties in feature order, so the same row always gives the same
    reasons.
    """
    per_feature = contributions[:, : len(feature_names)]
    above_average = per_feature.sum(axis=1) >= 0
    signed = np.where(above_average[:, None], per_feature, -per_feature)
    return np.argsort(-signed, axis=1, kind="stable")[:, :count]


def reasons_for(
    indices: npt.NDArray[np.int64],
    contributions: npt.NDArray[np.float64],
    feature_names: tuple[str, ...],
    get: Getter,
) -> list[Reason]:
    """The `Reason`s of one row, from its `top_reasons` indices."""
    return [
        Reason(
            code=feature_names[i],
            text=reason_text(feature_names[i], get),
            contribution=round(float(contributions[i]), 6),
        )
        for i in indices
    ]
