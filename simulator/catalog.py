"""The shop's products: ids, base prices, sizes, colors and each product's return effect.

The catalog is drawn once per run from the seed, so products (and their per-product return
effects, which a SKU-level feature can learn) are the same for every customer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.config import CategoryConfig, ReasonName
from simulator.sampling import Weighted

_POPULARITY_EXPONENT = 0.8  # Zipf-like: a few products sell much more than the long tail


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    category: str
    base_price: float  # in the base currency; local price = base_price x country price_factor
    sizes: tuple[str, ...]
    colors: tuple[str, ...]
    return_effect: float  # category effect + this product's own effect, on the log-odds scale
    reasons: Weighted[ReasonName]
    service_share: float
    end_of_life_prob: float

    def sku(self, size: str | None, color: str | None) -> str:
        parts = [self.product_id]
        if size is not None:
            parts.append(size)
        if color is not None:
            parts.append(color)
        return "-".join(parts)

    def local_price_cents(self, price_factor: float) -> int:
        """A shelf price ending in .99 in the customer's currency."""
        return max(1, round(self.base_price * price_factor)) * 100 - 1


@dataclass(frozen=True, slots=True)
class Catalog:
    names: tuple[str, ...]
    products: tuple[Weighted[Product], ...]  # by category index, weighted by popularity

    def pick(self, category: int, rng: random.Random) -> Product:
        return self.products[category].pick(rng)


def _draw_products(name: str, config: CategoryConfig, rng: random.Random) -> Weighted[Product]:
    reasons = Weighted.of(config.reasons)
    products = []
    for n in range(config.products):
        product = Product(
            product_id=f"{name}-{n + 1:05d}",
            category=name,
            base_price=config.price_median * rng.lognormvariate(0.0, config.price_sigma),
            sizes=tuple(config.sizes),
            colors=tuple(rng.sample(config.colors, rng.randint(1, min(4, len(config.colors)))))
            if config.colors
            else (),
            return_effect=config.return_effect + rng.gauss(0.0, config.product_effect_sigma),
            reasons=reasons,
            service_share=config.service_share,
            end_of_life_prob=config.end_of_life_prob,
        )
        products.append((product, 1.0 / (n + 1) ** _POPULARITY_EXPONENT))
    return Weighted.from_pairs(products)


def build_catalog(categories: dict[str, CategoryConfig], seed: int) -> Catalog:
    rng = random.Random(f"returnrisk-sim/{seed}/catalog")
    names = tuple(categories)
    return Catalog(names, tuple(_draw_products(n, categories[n], rng) for n in names))
