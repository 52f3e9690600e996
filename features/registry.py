"""The one list of features: names, windows and types, in the order models see them.

Names follow `{what}_{stat}_{window}` (e.g. `returned_items_sum_90d`). A model records the
ordered list and `FEATURE_SET_HASH`; scoring with a different list is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from features.config import FeatureConfig
from features.state import CHANNELS

FeatureType = Literal["numeric", "categorical"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    type: FeatureType
    window_days: int | None
    description: str


def _windowed(
    what: str, stat: str, windows: tuple[int, ...], description: str
) -> list[FeatureSpec]:
    return [
        FeatureSpec(f"{what}_{stat}_{w}d", "numeric", w, f"{description}, last {w} days")
        for w in windows
    ]


def _numeric(name: str, description: str, window: int | None = None) -> FeatureSpec:
    return FeatureSpec(name, "numeric", window, description)


def _categorical(name: str, description: str) -> FeatureSpec:
    return FeatureSpec(name, "categorical", None, description)


def _build() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = [
        # purchases
        *_windowed("orders", "count", (7, 30, 90, 365), "Orders placed"),
        *_windowed("items", "sum", (30, 90, 365), "Items bought"),
        *_windowed("gross_spend", "sum", (30, 90, 365), "Gross spend before discounts"),
        _numeric("order_value_mean_365d", "Average order value, last 365 days", 365),
        _numeric("discount_share_365d", "Discount as a share of gross spend, last 365 days", 365),
        _numeric("orders_count_lifetime", "Orders ever placed"),
        _numeric("tenure_days", "Days since the first order"),
        _numeric("days_since_last_order", "Days since the previous order"),
        _categorical("lifecycle_stage", "new, active, loyal or lapsed"),
        # commercial returns
        *_windowed("return_requests", "count", (30, 90, 365), "Commercial return requests"),
        *_windowed("returned_items", "sum", (90, 365), "Items requested back (commercial)"),
        *_windowed("returned_value", "sum", (90, 365), "Net value requested back (commercial)"),
        *_windowed("returned_items", "rate", (90, 365), "Smoothed item return rate"),
        *_windowed("returned_value", "rate", (90, 365), "Smoothed value return rate"),
        _numeric("returned_orders_count_365d", "Orders with a return request, last 365 days", 365),
        _numeric(
            "returned_orders_rate_365d",
            "Smoothed share of orders at least 30 days old with a return request, last 365 days",
            365,
        ),
        _numeric("days_since_last_return", "Days since the last return request"),
        _numeric("order_to_return_days_mean_365d", "Mean days from order to return request", 365),
        _numeric("return_reason_fit_share_365d", "Share of returned items: size/fit", 365),
        _numeric("return_reason_quality_share_365d", "Share: quality, damage, wrong item", 365),
        _numeric("return_reason_other_share_365d", "Share: changed mind and other", 365),
        _numeric("resolution_refund_share_365d", "Return requests asking for a refund", 365),
        _numeric("resolution_store_credit_share_365d", "... asking for store credit", 365),
        _numeric("resolution_exchange_share_365d", "... asking for an exchange", 365),
        _numeric("received_worn_count_365d", "Items received back worn", 365),
        _numeric("received_damaged_count_365d", "Items received back damaged", 365),
        # service and end-of-life returns say something else about a customer: kept apart
        _numeric("service_returns_count_365d", "Warranty and repair returns", 365),
        _numeric("end_of_life_returns_count_365d", "End-of-life (take-back) returns", 365),
        # behaviour
        _numeric(
            "bracketing_orders_count_365d", "Orders with several sizes/colours of one product", 365
        ),
        _numeric("repurchase_after_return_count_365d", "Orders re-buying a returned product", 365),
        # marketing, the 7 days before the moment scored
        *[
            _numeric(f"touch_{action}_{ch.value}_count_7d", f"{ch.value} {action}, last 7 days", 7)
            for ch in CHANNELS
            for action in ("clicks", "views")
        ],
        _categorical("last_touch_channel", "Channel of the last touch (click > open > impression)"),
        _categorical("last_touch_campaign", "Campaign of that touch"),
        _numeric("last_touch_discount_pct", "Discount offered by that campaign"),
        _numeric("last_touch_age_hours", "Hours since that touch"),
        # profile
        _categorical("loyalty_tier", "none, silver, gold or vip"),
        _numeric("is_staff", "1 for staff accounts"),
        _numeric("account_age_days", "Days since signup"),
        _categorical("country", "Customer country"),
        _numeric("email_opt_in", "1 when opted in to email"),
        # the order being scored
        _numeric("order_items", "Basket size in items"),
        _numeric("order_distinct_products", "Distinct products in the order"),
        _numeric("order_max_sizes_per_product", "Most sizes of one product"),
        _numeric("order_max_colors_per_product", "Most colours of one product"),
        _numeric("order_fit_category_share", "Items in fit-sensitive categories (apparel, shoes)"),
        _categorical("order_top_category", "Category with the most items"),
        _numeric("order_gross_value", "Gross order value"),
        _numeric("order_discount_depth", "Discount as a share of gross value"),
        _categorical("order_payment_method", "Payment method"),
        _categorical("order_channel", "web, app, store or marketplace"),
        _categorical("order_price_tier", "low, mid or high mean unit price"),
        _numeric("order_has_promo_code", "1 when a promo code was used"),
        _numeric("order_lines", "Lines in the order"),
        _numeric("order_line_quantity_mean", "Mean quantity per line"),
        _numeric("order_line_quantity_max", "Largest quantity on one line"),
        _numeric("order_unit_price_mean", "Mean unit price of the lines"),
        # the basket against everyone's history (the catalog) and the customer's own
        _numeric(
            "product_return_rate_mean",
            "Return rate of the basket's products (value-weighted, smoothed to the shop's)",
        ),
        _numeric("product_return_rate_max", "Highest return rate among the basket's products"),
        _numeric("product_return_chance", "Chance that at least one of its products goes back"),
        _numeric("category_return_rate_mean", "Return rate of the basket's categories"),
        _numeric("category_return_rate_max", "Highest return rate among its categories"),
        _numeric("products_new_share", "Share of the basket in products never sold before"),
        _numeric(
            "products_bought_before_share",
            "Share of the basket in products the customer bought in the 90 days before",
        ),
    ]
    return tuple(specs)


FEATURES: tuple[FeatureSpec, ...] = _build()
FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in FEATURES)
CATEGORICAL: frozenset[str] = frozenset(s.name for s in FEATURES if s.type == "categorical")


def feature_set_hash(config: FeatureConfig | None = None) -> str:
    """Identity of the feature set: names, types, windows and the knobs that shape values."""
    digest = hashlib.sha256()
    for spec in FEATURES:
        digest.update(f"{spec.name}:{spec.type}:{spec.window_days};".encode())
    digest.update((config or FeatureConfig()).model_dump_json().encode())
    return digest.hexdigest()[:16]
