"""The planted return drivers show up in a year of 3,000 customers, read back from the log.

Each comparison is many standard errors wide at the fixed seed, so these tests are not flaky;
the null config is checked with a chi-square test that the default config fails.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date
from pathlib import Path

import orjson

from simulator.config import SimulatorConfig, parse_config
from simulator.runner import simulate_events
from tests.simulator.conftest import EFFECT_CUSTOMERS, EFFECT_SEED
from tests.simulator.log_analysis import OrderFacts, item_return_rate, order_facts, return_rate

SIZE_CATEGORIES = {"apparel", "shoes"}
IMPULSE_CHANNELS = {"paid_social", "influencer"}


def _z(group: list[OrderFacts], baseline: list[OrderFacts]) -> float:
    """Two-proportion z statistic of group's order return rate over the baseline's."""
    p1, p2 = return_rate(group), return_rate(baseline)
    pooled = (p1 * len(group) + p2 * len(baseline)) / (len(group) + len(baseline))
    se = math.sqrt(pooled * (1 - pooled) * (1 / len(group) + 1 / len(baseline)))
    return (p1 - p2) / se


def _channel_homogeneity_p(orders: list[OrderFacts]) -> float:
    """p-value of a chi-square test that all last-click channels share one return rate."""
    groups: dict[str, list[OrderFacts]] = defaultdict(list)
    for order in orders:
        if order.last_click_channel is not None:
            groups[order.last_click_channel].append(order)
    groups = {k: v for k, v in groups.items() if len(v) >= 50}
    total = sum(len(v) for v in groups.values())
    rate = sum(sum(o.returned for o in v) for v in groups.values()) / total
    chi2 = 0.0
    for members in groups.values():
        returned = sum(o.returned for o in members)
        expected = rate * len(members)
        chi2 += (returned - expected) ** 2 / (expected * (1 - rate))
    df = len(groups) - 1
    # Wilson-Hilferty: (chi2/df)^(1/3) is close to normal; good to ~1e-3 for df >= 5.
    z = ((chi2 / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))


def test_overall_rates_are_those_of_a_fashion_shop(year_orders: list[OrderFacts]) -> None:
    assert 0.25 < return_rate(year_orders) < 0.45
    assert 0.15 < item_return_rate(year_orders) < 0.30


def test_apparel_and_shoes_return_far_more_than_other_categories(
    year_orders: list[OrderFacts],
) -> None:
    sized = item_return_rate(year_orders, SIZE_CATEGORIES)
    others = {c for o in year_orders for line in o.lines for c in [line["category"]]}
    others -= SIZE_CATEGORIES
    assert others == {"accessories", "beauty", "home", "electronics"}
    assert sized > 2 * item_return_rate(year_orders, others)
    for category in others:
        assert sized > item_return_rate(year_orders, {category}) + 0.1


def test_vip_orders_return_less_than_new_customers(year_orders: list[OrderFacts]) -> None:
    vip = [o for o in year_orders if o.tier == "vip"]
    new = [o for o in year_orders if o.tier == "none" and o.tenure_days < 90]
    assert len(vip) > 500 and len(new) > 300
    assert _z(new, vip) > 5


def test_bracketed_orders_return_more(year_orders: list[OrderFacts]) -> None:
    bracketed = [o for o in year_orders if o.bracketed]
    single = [o for o in year_orders if not o.bracketed]
    assert len(bracketed) > 300
    assert return_rate(bracketed) > return_rate(single) + 0.3


def test_orders_after_impulse_channel_clicks_return_more_than_after_email(
    year_orders: list[OrderFacts],
) -> None:
    impulse = [o for o in year_orders if o.last_click_channel in IMPULSE_CHANNELS]
    email = [o for o in year_orders if o.last_click_channel == "email"]
    assert len(impulse) > 500 and len(email) > 250
    assert _z(impulse, email) > 4


def test_a_planted_campaign_uplift_shows_for_that_campaign(
    default_config: SimulatorConfig,
) -> None:
    data = default_config.model_dump(mode="json")
    for campaign in data["marketing"]["campaigns"]:
        if campaign["id"] == "search-generic":
            campaign["return_uplift"] = 1.5
    planted = parse_config(data, Path("planted.yaml"))
    lines, _ = simulate_events(
        planted, customers=EFFECT_CUSTOMERS, days=365, seed=EFFECT_SEED, start=date(2025, 1, 1)
    )
    orders = order_facts([orjson.loads(line) for line in lines], 7)
    generic = [o for o in orders if o.campaign_id == "search-generic"]
    brand = [o for o in orders if o.campaign_id == "search-brand"]
    assert len(generic) > 150 and len(brand) > 300
    assert _z(generic, brand) > 5


def test_no_marketing_effects_config_has_indistinguishable_channels(
    null_year_orders: list[OrderFacts], year_orders: list[OrderFacts]
) -> None:
    assert _channel_homogeneity_p(null_year_orders) > 0.01
    # The same test does see the channel effects of the default config.
    assert _channel_homogeneity_p(year_orders) < 1e-6
