"""The catalog: ids, prices, and sizes/colors only where they make sense."""

from __future__ import annotations

from simulator.catalog import build_catalog
from simulator.config import SimulatorConfig


def test_products_follow_their_category(default_config: SimulatorConfig) -> None:
    catalog = build_catalog(default_config.categories, seed=3)
    assert catalog.names == tuple(default_config.categories)
    ids = set()
    for name, table in zip(catalog.names, catalog.products, strict=True):
        config = default_config.categories[name]
        assert len(table.items) == config.products
        for product in table.items:
            ids.add(product.product_id)
            assert product.category == name
            assert product.sizes == tuple(config.sizes)
            assert set(product.colors) <= set(config.colors)
            assert bool(product.colors) == bool(config.colors)
            assert product.local_price_cents(1.0) % 100 == 99
    assert len(ids) == sum(c.products for c in default_config.categories.values())


def test_skus_name_product_size_and_color(default_config: SimulatorConfig) -> None:
    catalog = build_catalog(default_config.categories, seed=3)
    shoe = catalog.products[catalog.names.index("shoes")].items[0]
    beauty = catalog.products[catalog.names.index("beauty")].items[0]
    assert shoe.sku("42", "black") == f"{shoe.product_id}-42-black"
    assert beauty.sku(None, None) == beauty.product_id


def test_the_catalog_depends_on_the_seed(default_config: SimulatorConfig) -> None:
    first = build_catalog(default_config.categories, seed=3)
    assert first == build_catalog(default_config.categories, seed=3)
    assert first != build_catalog(default_config.categories, seed=4)
