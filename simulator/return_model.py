"""Which units of an order come back, why, and as what kind of return.

The log-odds of a unit coming back is a sum of effects from the customer, the order and the
product (the formula is spelled out at the top of default.yaml); every term is something a
streaming feature can see or estimate: past returns, tier, tenure, country, attributes,
channel, payment, season, last click, discount, category and product. Bracketed extras are
the exception: they come back with a fixed probability, whatever the customer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.calendar import DAY
from simulator.customers import Customer
from simulator.orders import PlacedLine, PlacedOrder
from simulator.sampling import sigmoid
from simulator.world import World

COMMERCIAL, SERVICE, END_OF_LIFE = "commercial", "service", "end_of_life"


@dataclass(frozen=True, slots=True)
class ReturnedLine:
    line: PlacedLine
    units: int
    reason: str
    return_type: str


def order_log_odds(world: World, customer: Customer, order: PlacedOrder) -> float:
    """Return log-odds shared by every line of `order`, before category and product effects."""
    config = world.config
    returns, marketing = config.returns, config.marketing
    log_odds = (
        returns.base_log_odds
        + customer.static_effect
        + config.tiers.return_effect[customer.tier]
        + world.order_channel_effect[order.channel]
        + world.payment_effect[order.payment_method]
        + marketing.discount_effect_per_10pct * order.discount_fraction * 10.0
    )
    if order.t - customer.signup_t < returns.new_customer_days * DAY:
        log_odds += returns.new_customer_effect
    if world.calendar.gift_returns_from[order.t // DAY] is not None:
        log_odds += config.seasonality.gift.return_effect
    if order.campaign is not None:
        log_odds += order.campaign.return_effect
    return log_odds


def _ordinary_line(line: PlacedLine, log_odds: float, rng: random.Random) -> ReturnedLine | None:
    p = sigmoid(log_odds + line.product.return_effect)
    units = sum(1 for _ in range(line.quantity) if rng.random() < p)
    if units:
        reason = line.product.reasons.pick(rng)
        kind = COMMERCIAL
        if reason == "defective" and rng.random() < line.product.service_share:
            kind = SERVICE
        return ReturnedLine(line, units, reason, kind)
    if line.product.end_of_life_prob and rng.random() < line.product.end_of_life_prob:
        return ReturnedLine(line, line.quantity, "other", END_OF_LIFE)
    return None


def returned_lines(
    world: World, customer: Customer, order: PlacedOrder, rng: random.Random
) -> list[ReturnedLine]:
    """Draw, for every line of `order`, whether and how much of it comes back."""
    log_odds = order_log_odds(world, customer, order)
    extra_return_prob = world.config.bracketing.extra_return_prob
    returned = []
    for line in order.lines:
        if line.bracket_reason is not None:
            if rng.random() < extra_return_prob:
                returned.append(ReturnedLine(line, line.quantity, line.bracket_reason, COMMERCIAL))
            continue
        outcome = _ordinary_line(line, log_odds, rng)
        if outcome is not None:
            returned.append(outcome)
    return returned
