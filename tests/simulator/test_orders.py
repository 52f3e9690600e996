"""Orders on the wire: bracketing, discounts and promo codes, campaign tags."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from simulator.config import SimulatorConfig
from tests.simulator.log_analysis import OrderFacts


def test_bracketed_orders_hold_neighbouring_sizes_that_mostly_go_back(
    year_orders: list[OrderFacts], default_config: SimulatorConfig
) -> None:
    sizes = {name: c.sizes for name, c in default_config.categories.items()}
    sized_brackets = extras = extras_back_for_size = 0
    for order in (o for o in year_orders if o.bracketed):
        variants: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in order.lines:
            variants[line["product_id"]].append(line)
        for lines in (v for v in variants.values() if len(v) > 1 and v[0]["size"] is not None):
            sized_brackets += 1
            scale = sizes[lines[0]["category"]]
            positions = sorted(scale.index(line["size"]) for line in lines)
            assert positions[-1] - positions[0] <= 2, "variants are neighbouring sizes"
            extras += len(lines) - 1
            extras_back_for_size += sum(
                order.return_reasons.get(line["sku"]) in {"size_too_small", "size_too_large"}
                for line in lines
            )
    assert sized_brackets > 200
    assert extras_back_for_size > 0.8 * extras


def test_promo_codes_come_with_discounts(year_events: list[dict[str, Any]]) -> None:
    orders = [e for e in year_events if e["event_type"] == "order_placed"]
    with_promo = [o for o in orders if o["promo_code"] is not None]
    assert 0.05 < len(with_promo) / len(orders) < 0.5
    for order in orders:
        discounted = any(Decimal(line["discount_amount"]) > 0 for line in order["lines"])
        assert discounted == (order["promo_code"] is not None)
        for line in order["lines"]:
            assert Decimal(line["discount_amount"]) < Decimal(line["unit_price"]) * line["quantity"]


def test_tagged_campaigns_were_clicked_shortly_before(year_orders: list[OrderFacts]) -> None:
    tagged = [o for o in year_orders if o.campaign_id is not None]
    assert len(tagged) > 0.15 * len(year_orders)
    assert all(o.last_click_channel is not None for o in tagged)


def test_staff_orders_carry_the_staff_discount(year_events: list[dict[str, Any]]) -> None:
    staff = {
        e["customer_id"]
        for e in year_events
        if e["event_type"] == "customer_updated" and e["is_staff"]
    }
    orders = [e for e in year_events if e["event_type"] == "order_placed"]
    staff_orders = [o for o in orders if o["customer_id"] in staff]
    assert staff_orders
    assert all(o["promo_code"] == "STAFF" for o in staff_orders)
    assert not any(o["promo_code"] == "STAFF" for o in orders if o["customer_id"] not in staff)
