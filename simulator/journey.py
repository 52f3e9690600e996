"""One customer's whole window: profile, touches, orders, returns and tier upgrades.

Each customer draws from their own generator, seeded from (run seed, customer index), so a
customer's events do not depend on how many customers come before them or on the order in
which customers are simulated.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left

from simulator import events
from simulator.config import TierName
from simulator.customers import Customer, draw_customer
from simulator.offer_effects import (
    MadeOffer,
    OfferPlan,
    offer_rng,
    repurchase_times,
    treated_returns,
)
from simulator.orders import PlacedOrder, place_order
from simulator.return_model import ReturnedLine, returned_lines
from simulator.returns import emit_returns
from simulator.timeline import Timeline
from simulator.touches import Click, simulate_touches
from simulator.world import TIERS, World

_CONVERSION_DELAY_MEAN_S = 4 * 3600.0  # click -> order: 10 minutes + exponential, <= 2 days
_CONVERSION_DELAY_MAX_S = 2 * 86_400
_UPGRADE_DELAY_MAX_S = 60  # the loyalty system reacts to an order within a minute


def customer_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"returnrisk-sim/{seed}/customer/{index}")


def _profile(world: World, customer: Customer, t: int, timeline: Timeline) -> None:
    eid, at = timeline.header(t)
    line = events.customer_updated(
        eid,
        at,
        customer.customer_id,
        tier=customer.tier,
        is_staff=customer.is_staff,
        signup_at=world.calendar.stamp(customer.signup_t),
        country=customer.country.code,
        email_opt_in=customer.email_opt_in,
        attributes=customer.attributes,
    )
    timeline.add(t, "customer_updated", line)


def _earned_tier(world: World, spend: float, current: TierName) -> TierName:
    """The highest tier whose threshold `spend` reaches; tiers never go down."""
    earned = current
    for tier, threshold in world.config.tiers.spend_thresholds.items():
        if spend >= threshold and TIERS.index(tier) > TIERS.index(earned):
            earned = tier
    return earned


def _triggered_orders(clicks: list[Click], end: int, rng: random.Random) -> list[tuple[int, Click]]:
    triggered = []
    for click in clicks:
        if rng.random() < click.campaign.conversion_prob:
            delay = 600 + rng.expovariate(1.0 / _CONVERSION_DELAY_MEAN_S)
            t = click.t + int(min(delay, _CONVERSION_DELAY_MAX_S))
            if t < end:
                triggered.append((t, click))
    triggered.sort(key=lambda pair: pair[0])
    return triggered


class _OrderLoop:
    """Merges organic orders (a Poisson process whose rate follows the tier) with orders
    triggered by clicks, and places them in time order so spend and tier evolve in order."""

    def __init__(
        self,
        world: World,
        customer: Customer,
        rng: random.Random,
        tl: Timeline,
        seed: int,
        offers: OfferPlan | None,
    ):
        self.world, self.customer, self.rng, self.timeline = world, customer, rng, tl
        self.seed, self.offers = seed, offers
        self.refunds: list[tuple[int, float]] = []  # heap of (second received, base amount)
        self.orders = 0

    def _rate(self) -> float:
        orders, tiers = self.world.config.orders, self.world.config.tiers
        multiplier = tiers.order_rate_multiplier[self.customer.tier]
        return orders.organic_per_year * self.customer.activity * multiplier

    def _next_organic(self, x: float) -> tuple[float, int]:
        rate = self._rate()
        if rate <= 0:
            return math.inf, self.world.calendar.end
        x += self.rng.expovariate(rate)
        return x, self.world.calendar.time_at(self.world.calendar.order_cum, x)

    def run(self, first: int, clicks: list[Click]) -> None:
        calendar, end = self.world.calendar, self.world.calendar.end
        click_times = [c.t for c in clicks]
        window = int(self.world.config.marketing.attribution_window_days * 86_400)
        triggered = _triggered_orders(clicks, end, self.rng)
        x, t_organic = self._next_organic(calendar.position(calendar.order_cum, first))
        next_triggered = 0
        while True:
            organic = next_triggered >= len(triggered) or t_organic <= triggered[next_triggered][0]
            t = max(t_organic if organic else triggered[next_triggered][0], first)
            if t >= end:
                return
            if not organic:
                next_triggered += 1
            last = bisect_left(click_times, t) - 1
            click = clicks[last] if last >= 0 and t - click_times[last] <= window else None
            upgraded = self._place(t, click)
            if organic or upgraded:
                x = x if organic else calendar.position(calendar.order_cum, t)
                x, t_organic = self._next_organic(x)

    def _place(self, t: int, click: Click | None) -> bool:
        """Place one order and its returns; whether it lifted the customer's tier."""
        world, customer, rng, timeline = self.world, self.customer, self.rng, self.timeline
        while self.refunds and self.refunds[0][0] <= t:
            customer.spend -= heapq.heappop(self.refunds)[1]
        self.orders += 1
        order_id = f"ord-{customer.index + 1:07d}-{self.orders:04d}"
        order = place_order(world, customer, rng, timeline, t, order_id, click)
        returned = returned_lines(world, customer, order, rng)
        plan = self.offers
        offers = plan.offers_on(order_id) if plan else []
        refunds = (
            self._offered(plan, order, returned, offers)
            if plan and offers
            else emit_returns(world, customer, order, returned, rng, timeline)
        )
        for refund in refunds:
            heapq.heappush(self.refunds, refund)
        paid = sum(ln.unit_cents * ln.quantity - ln.discount_cents for ln in order.lines)
        customer.spend += paid / 100.0 / customer.country.price_factor
        tier = _earned_tier(world, customer.spend, customer.tier)
        if tier == customer.tier:
            return False
        customer.tier = tier
        upgraded_at = t + 1 + int(rng.random() * _UPGRADE_DELAY_MAX_S)
        if upgraded_at < world.calendar.end:
            _profile(world, customer, upgraded_at, timeline)
        return True

    def _offered(
        self,
        plan: OfferPlan,
        order: PlacedOrder,
        returned: list[ReturnedLine],
        offers: list[MadeOffer],
    ) -> list[tuple[int, float]]:
        """Emit an offered order's returns as the offers change them, plus the extra orders
        they bring; the refunds (for spend and tier) are those without the offers, drawn from
        the customer's generator exactly as they would have been."""
        world, customer, rng = self.world, self.customer, self.rng
        before = rng.getstate()
        untreated = Timeline(world.calendar, customer.customer_id, rng)
        refunds = emit_returns(world, customer, order, returned, rng, untreated)
        made = plan.match(order, offers, [line for _, line in untreated.events])
        if not any(o.effect.return_change or o.effect.repurchase_change for o in made):
            self.timeline.absorb(untreated)
            return refunds
        twin = random.Random()
        twin.setstate(before)  # the same draws as the untreated returns, where they agree
        treated = Timeline(world.calendar, customer.customer_id, twin)
        own = offer_rng(self.seed, order.order_id)
        changed = treated_returns(order, returned, made, own)
        emit_returns(world, customer, order, changed, twin, treated)
        self.timeline.absorb(treated)
        for n, t in enumerate(repurchase_times(made, own, world.calendar.end), start=1):
            extra = Timeline(world.calendar, customer.customer_id, own)
            placed = place_order(world, customer, own, extra, t, f"{order.order_id}-x{n}", None)
            comes_back = returned_lines(world, customer, placed, own)
            emit_returns(world, customer, placed, comes_back, own, extra)
            self.timeline.absorb(extra)
        return refunds


def simulate_customer(
    world: World, seed: int, index: int, offers: OfferPlan | None = None
) -> Timeline:
    """Every event of customer `index` in the window, in time order; with `offers`, the
    effects of the offers made on their orders planted (`simulator.offer_effects`)."""
    rng = customer_rng(seed, index)
    customer = draw_customer(world, index, rng)
    timeline = Timeline(world.calendar, customer.customer_id, rng)
    first = max(customer.signup_t, 0)
    _profile(world, customer, first, timeline)
    clicks = simulate_touches(world, customer, rng, first, timeline)
    _OrderLoop(world, customer, rng, timeline, seed, offers).run(first, clicks)
    timeline.in_order()
    return timeline
