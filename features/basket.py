"""What a basket's products say: their return rates across all customers, and how familiar
they are to this customer.

Pure code, no I/O. Read as of the day the order was placed: product and category rates from
the catalog's counts of the days before it (features/catalog.py), the customer's familiarity
from their orders of the previous `repeat_window_days`. Nothing of it is stored with the order
(what arrives later would change it, and state must not depend on arrival order): a return
request reads its order's basket again, as of the request (features/vector.py).

A product's rate is its share of orders with a commercial return request for it, smoothed
towards the shop's rate of the same days: (returned + w x shop) / (sold + w), with w =
`product_rate_prior_weight`. Rates are missing (NaN), not zero, before the shop has sold
anything.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Protocol

from features.catalog import ALL, RETURNED, SOLD, Catalog, category_key, product_key
from features.config import FeatureConfig

BasketValues = dict[str, float]

BASKET_FEATURE_NAMES: tuple[str, ...] = (
    "product_return_rate_mean",
    "product_return_rate_max",
    "product_return_chance",
    "category_return_rate_mean",
    "category_return_rate_max",
    "products_new_share",
    "products_bought_before_share",
)


class Line(Protocol):
    """What a basket reads of an order line (`state.OrderLine`)."""

    @property
    def product(self) -> int: ...
    @property
    def category(self) -> int: ...
    @property
    def unit_net_cents(self) -> int: ...
    @property
    def quantity(self) -> int: ...


def basket_features(
    lines: Sequence[Line],
    bought_before: Collection[int],
    day: int,
    catalog: Catalog,
    config: FeatureConfig,
) -> BasketValues:
    """Product and category rates of the lines (value-weighted mean and max; the chance that
    at least one product is returned, as if products were independent), the value share of
    products nobody bought before `day`, and of products in `bought_before`."""
    values = [max(line.unit_net_cents * line.quantity, 0) for line in lines]
    total = sum(values)
    weights = [v / total for v in values] if total else [1 / len(lines)] * len(lines)
    weighted = list(zip(lines, weights, strict=True))
    familiar = float(sum(w for line, w in weighted if line.product in bought_before))
    shop_sold = catalog.before(ALL, day, SOLD)
    if shop_sold == 0:
        return {
            **dict.fromkeys(BASKET_FEATURE_NAMES, math.nan),
            "products_bought_before_share": familiar,
        }
    shop = catalog.before(ALL, day, RETURNED) / shop_sold
    weight = config.product_rate_prior_weight

    def rate(key: str) -> float:
        sold, returned = catalog.before(key, day, SOLD), catalog.before(key, day, RETURNED)
        return (returned + weight * shop) / (sold + weight)

    products = {line.product: rate(product_key(line.product)) for line in lines}
    categories = {line.category: rate(category_key(line.category)) for line in lines}
    unsold = float(
        sum(w for line, w in weighted if catalog.before(product_key(line.product), day, SOLD) == 0)
    )
    return {
        "product_return_rate_mean": sum(w * products[line.product] for line, w in weighted),
        "product_return_rate_max": max(products.values()),
        "product_return_chance": 1 - math.prod(1 - r for r in products.values()),
        "category_return_rate_mean": sum(w * categories[line.category] for line, w in weighted),
        "category_return_rate_max": max(categories.values()),
        "products_new_share": unsold,
        "products_bought_before_share": familiar,
    }
