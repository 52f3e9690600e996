"""Drawing one customer: profile, hidden traits and the part of return risk they carry.

Visible traits (tier, country, staff flag, attributes) go out in customer_updated events;
hidden ones (serial returner, bracketer, activity, a random taste effect) only show through
behaviour, which is what a model has to learn from the stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.calendar import DAY
from simulator.config import CountryConfig, TierName
from simulator.sampling import Weighted, lognormal_mean_one
from simulator.world import TIERS, World


@dataclass(slots=True)
class Customer:
    index: int
    customer_id: str
    signup_t: int  # seconds from the log start; negative for customers who joined before it
    country: CountryConfig
    is_staff: bool
    email_opt_in: bool
    serial_returner: bool
    bracketer: bool
    activity: float  # multiplies the organic order rate
    tier: TierName
    spend: float  # base currency, net of refunds received; drives tier upgrades
    static_effect: float  # return log-odds from traits that do not change
    attributes: dict[str, str]
    categories: Weighted[int]
    size_quantile: float  # where the customer sits in any size range, 0 (smallest) .. 1
    preferred_payment: str
    preferred_channel: str


def _initial_spend(world: World, tier: TierName, rng: random.Random) -> float:
    thresholds = world.config.tiers.spend_thresholds
    bounds = [
        0.0,
        thresholds["silver"],
        thresholds["gold"],
        thresholds["vip"],
        2 * thresholds["vip"],
    ]
    rank = TIERS.index(tier)
    return bounds[rank] + (bounds[rank + 1] - bounds[rank]) * rng.random() ** 2


def draw_customer(world: World, index: int, rng: random.Random) -> Customer:
    """A customer with every trait drawn from `rng` (seeded per customer by the caller)."""
    config = world.config
    people, returns, calendar = config.customers, config.returns, world.calendar
    if rng.random() < people.existing_share:
        signup_t = -1 - int(rng.random() * people.max_tenure_years * 365 * DAY)
        tier = world.initial_tiers.pick(rng)
    else:
        signup_t = calendar.time_at(calendar.order_cum, rng.random() * calendar.order_cum[-1])
        tier = "none"
    country = world.countries.pick(rng)
    is_staff = rng.random() < people.staff_share
    serial = rng.random() < people.serial_returner_share
    age_band, age_effect = world.age_bands.pick(rng)
    segment = world.segments.pick(rng)
    attributes = {"age_band": age_band, "newsletter_segment": segment.name}
    if country.stores and rng.random() < people.store_shopper_share:
        attributes["preferred_store"] = rng.choice(country.stores)
    static_effect = (
        rng.gauss(0.0, returns.customer_sigma)
        + (returns.serial_returner_effect if serial else 0.0)
        + (returns.staff_effect if is_staff else 0.0)
        + country.return_effect
        + age_effect
    )
    return Customer(
        index=index,
        customer_id=f"cust-{index + 1:07d}",
        signup_t=signup_t,
        country=country,
        is_staff=is_staff,
        email_opt_in=rng.random() < people.email_opt_in_share,
        serial_returner=serial,
        bracketer=serial or rng.random() < people.bracketer_share,
        activity=lognormal_mean_one(rng, people.activity_sigma),
        tier=tier,
        spend=_initial_spend(world, tier, rng),
        static_effect=static_effect,
        attributes=attributes,
        categories=segment.categories,
        size_quantile=rng.betavariate(2.0, 2.0),
        preferred_payment=world.payments.pick(rng),
        preferred_channel=world.order_channels.pick(rng),
    )
