"""Planting what offers made do: `returnrisk simulate --offers FILE`.

The loop of issue 22: simulate a year, decide offers on it (`policy backtest` writes
offers.jsonl; an export of the offers topic works too), then simulate the same year again
(same seed, customers, days, start and config) with `--offers`. The second log is the first
one except where an offer was made; held-out records plant nothing. So `report --offers` on
the second log can be checked against the effects planted here (`offer_effects` in the
config, per offer type).

Everything else stays identical: an offered order's returns are drawn as without the offer
(the customer's generator, spend and tier go on as before) and only then changed, with a
generator of the order's own; planted repurchases are extra orders with ids of their own
(`<order id>-x1`) that feed no spend or tier. The truth is therefore known from the first
log: the offered orders' return rate changes by `return_change` times that rate (times one
minus it for a positive change), their repurchase rate by `repurchase_change` times one minus
that rate.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from schemas.offer_log import REPURCHASE_DAYS
from schemas.outputs import Offer
from simulator.calendar import DAY
from simulator.config import OfferEffect
from simulator.orders import PlacedOrder
from simulator.return_model import COMMERCIAL, ReturnedLine


@dataclass(frozen=True, slots=True)
class MadeOffer:
    """One offer made (not held out) on an order, with the effect its type plants."""

    offer_id: str
    source_event_id: str
    t: int
    """Second of the window it was made (its record's created_at)."""
    effect: OfferEffect


@dataclass(slots=True)
class OfferPlan:
    """The offers made, by order id; what was planted is counted as the run goes."""

    by_order: dict[str, list[MadeOffer]] = field(default_factory=dict)
    records: int = 0
    held_out: int = 0
    without_order: int = 0
    """Records without `order_id` (written before it existed): they cannot be placed."""
    matched: set[str] = field(default_factory=set)
    """Offer ids whose order and source event this run produced."""

    @classmethod
    def build(
        cls, offers: Iterable[Offer], effects: Mapping[str, OfferEffect], start: date
    ) -> OfferPlan:
        """Each offer once (its first record), held-out and order-less records counted."""
        origin = datetime(start.year, start.month, start.day, tzinfo=UTC)
        plan, seen, none = cls(), set(), OfferEffect()
        for offer in offers:
            plan.records += 1
            if offer.offer_id in seen:
                continue
            seen.add(offer.offer_id)
            if offer.held_out:
                plan.held_out += 1
            elif offer.order_id is None:
                plan.without_order += 1
            else:
                made = MadeOffer(
                    offer.offer_id,
                    offer.source_event_id,
                    int((offer.created_at - origin).total_seconds()),
                    effects.get(offer.offer_type.value, none),
                )
                plan.by_order.setdefault(offer.order_id, []).append(made)
        return plan

    def offers_on(self, order_id: str) -> list[MadeOffer]:
        return self.by_order.get(order_id, [])

    def match(
        self, order: PlacedOrder, offers: list[MadeOffer], lines: list[str]
    ) -> list[MadeOffer]:
        """The offers whose source event is `order`'s or one of its returns' (in `lines`, its
        return events as drawn without offers), recorded as matched; an order id alone would
        match a run of another seed or size."""
        matched = [
            o
            for o in offers
            if o.source_event_id == order.event_id
            or any(f'"event_id":"{o.source_event_id}"' in line for line in lines)
        ]
        self.matched.update(o.offer_id for o in matched)
        return matched

    @property
    def made(self) -> int:
        return sum(len(offers) for offers in self.by_order.values())

    @property
    def unmatched(self) -> int:
        """Offers made on events this run never produced: a different seed, size or window."""
        return self.made - len(self.matched)


def offer_rng(seed: int, order_id: str) -> random.Random:
    """The generator of an offered order's planted changes: its own, so the customer's is
    untouched."""
    return random.Random(f"returnrisk-sim/{seed}/offer/{order_id}")


def treated_returns(
    order: PlacedOrder,
    returned: list[ReturnedLine],
    offers: list[MadeOffer],
    rng: random.Random,
) -> list[ReturnedLine]:
    """`returned` as changed by the offers made on `order` itself (not on its returns)."""
    for offer in offers:
        change = offer.effect.return_change
        if offer.source_event_id != order.event_id or not change:
            continue
        commercial = any(r.return_type == COMMERCIAL for r in returned)
        if change < 0 and commercial and rng.random() < -change:
            returned = [r for r in returned if r.return_type != COMMERCIAL]
        elif change > 0 and not commercial and rng.random() < change:
            returned = [*returned, _one_more(order, rng)]
    return returned


def _one_more(order: PlacedOrder, rng: random.Random) -> ReturnedLine:
    """One unit of one line sent back, for a reason its product is returned for."""
    line = rng.choice(order.lines)
    reason = line.bracket_reason or line.product.reasons.pick(rng)
    return ReturnedLine(line, 1, reason, COMMERCIAL)


def repurchase_times(offers: list[MadeOffer], rng: random.Random, end: int) -> list[int]:
    """When the planted extra orders come: within the repurchase window of their offer."""
    times = []
    for offer in offers:
        if offer.effect.repurchase_change and rng.random() < offer.effect.repurchase_change:
            t = offer.t + int(rng.uniform(1, REPURCHASE_DAYS - 1) * DAY)
            if t < end:
                times.append(t)
    return times
