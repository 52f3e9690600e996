"""Features of the order being scored: known the moment it is placed, from the order alone."""

from __future__ import annotations

from collections import Counter

from features.config import FeatureConfig
from features.units import cents
from schemas import OrderPlaced

OrderValues = dict[str, float | str]

ORDER_FEATURE_NAMES: tuple[str, ...] = (
    "order_items",
    "order_distinct_products",
    "order_max_sizes_per_product",
    "order_max_colors_per_product",
    "order_fit_category_share",
    "order_top_category",
    "order_gross_value",
    "order_discount_depth",
    "order_payment_method",
    "order_channel",
    "order_price_tier",
    "order_has_promo_code",
    "order_lines",
    "order_line_quantity_mean",
    "order_line_quantity_max",
    "order_unit_price_mean",
)


def order_features(order: OrderPlaced, config: FeatureConfig) -> OrderValues:
    """Features of the order itself: known at the moment it is placed."""
    items = sum(line.quantity for line in order.lines)
    sizes: dict[str, set[str | None]] = {}
    colors: dict[str, set[str | None]] = {}
    by_category = Counter[str]()
    gross = discount = 0
    for line in order.lines:
        sizes.setdefault(line.product_id, set()).add(line.size)
        colors.setdefault(line.product_id, set()).add(line.color)
        by_category[line.category] += line.quantity
        line_gross = cents(line.unit_price) * line.quantity
        gross += line_gross
        discount += min(cents(line.discount_amount), line_gross)
    fit_items = sum(by_category[c] for c in config.fit_sensitive_categories)
    top_category = min(by_category, key=lambda c: (-by_category[c], c))
    mean_unit = gross / 100 / items
    low, high = config.price_tier_bounds
    return {
        "order_items": float(items),
        "order_distinct_products": float(len(sizes)),
        "order_max_sizes_per_product": float(max(len(s) for s in sizes.values())),
        "order_max_colors_per_product": float(max(len(c) for c in colors.values())),
        "order_fit_category_share": fit_items / items,
        "order_top_category": top_category,
        "order_gross_value": gross / 100,
        "order_discount_depth": discount / gross if gross else 0.0,
        "order_payment_method": order.payment_method.value,
        "order_channel": order.channel.value,
        "order_price_tier": "low" if mean_unit < low else "high" if mean_unit >= high else "mid",
        "order_has_promo_code": float(order.promo_code is not None),
        "order_lines": float(len(order.lines)),
        "order_line_quantity_mean": items / len(order.lines),
        "order_line_quantity_max": float(max(line.quantity for line in order.lines)),
        "order_unit_price_mean": sum(cents(line.unit_price) for line in order.lines)
        / 100
        / len(order.lines),
    }
