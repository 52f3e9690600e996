"""Customer draws: population shares, consistent countries and usable attributes."""

from __future__ import annotations

from datetime import date

import pytest

from simulator.config import SimulatorConfig
from simulator.customers import Customer, draw_customer
from simulator.journey import customer_rng
from simulator.world import build_world

N = 20_000


@pytest.fixture(scope="module")
def population(default_config: SimulatorConfig) -> list[Customer]:
    world = build_world(default_config, 1, date(2025, 1, 1), 365)
    return [draw_customer(world, i, customer_rng(1, i)) for i in range(N)]


def _share(population: list[Customer], flag: str) -> float:
    return sum(bool(getattr(c, flag)) for c in population) / len(population)


def test_serial_returners_and_staff_are_small_shares(population: list[Customer]) -> None:
    assert 0.03 < _share(population, "serial_returner") < 0.05
    assert 0.005 < _share(population, "is_staff") < 0.015
    assert all(c.bracketer for c in population if c.serial_returner)


def test_most_customers_signed_up_before_the_window(population: list[Customer]) -> None:
    existing = [c for c in population if c.signup_t < 0]
    assert 0.67 < len(existing) / N < 0.73
    new = [c for c in population if c.signup_t >= 0]
    assert all(c.tier == "none" for c in new)
    assert {c.tier for c in existing} == {"none", "silver", "gold", "vip"}


def test_countries_carry_their_currency_and_stores(
    population: list[Customer], default_config: SimulatorConfig
) -> None:
    countries = {c.code: c for c in default_config.countries}
    seen = {c.country.code for c in population}
    assert seen == set(countries)
    for customer in population[:2000]:
        assert customer.country is countries[customer.country.code]
        store = customer.attributes.get("preferred_store")
        assert store is None or store in customer.country.stores


def test_attributes_give_segment_rules_something_to_use(population: list[Customer]) -> None:
    bands = {c.attributes["age_band"] for c in population}
    segments = {c.attributes["newsletter_segment"] for c in population}
    assert bands == {"18-24", "25-34", "35-44", "45-54", "55+"}
    assert segments == {"fashion", "deals", "home", "tech", "beauty"}
    with_store = sum("preferred_store" in c.attributes for c in population) / N
    assert 0.2 < with_store < 0.4


def test_the_same_seed_and_index_give_the_same_customer(default_config: SimulatorConfig) -> None:
    world = build_world(default_config, 1, date(2025, 1, 1), 365)
    assert draw_customer(world, 17, customer_rng(1, 17)) == draw_customer(
        world, 17, customer_rng(1, 17)
    )
    assert draw_customer(world, 17, customer_rng(1, 17)) != draw_customer(
        world, 17, customer_rng(2, 17)
    )
