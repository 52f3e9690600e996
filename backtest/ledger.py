"""A policy's decisions priced with its economics against what happened afterwards.

Money out: what the offers made cost (their credit or bonus value, or the fixed cost the
economics give) and the credit lost to instant store credit (credited items that came back
worn, damaged, with parts missing, or never: their value times the resale loss of that
condition). Money protected: the same loss on the return requests the policy sent through
inspection instead, i.e. what crediting them at once would have lost. Net = protected - out.
Held-out customers' offers cost nothing (they were not made) and are counted apart, so the
treated and held-out outcomes of a rule can be compared. That comparison, priced, is a rule's
measured effect: the returns it saved (or added) and the repurchases it brought, per treated
decision against the held-out ones, times its treated decisions. It is an estimate from a
random holdout, so it is shown beside the net (`net_with_measured_effect`), not in it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from backtest.outcomes import CENT, Afterwards, LogFacts
from backtest.replay import Decisions
from policy.economics import EconomicsModel, Money
from policy.rules import Policy
from schemas.outputs import OfferType, RecommendedResolution

INSTANT_CREDIT = RecommendedResolution.INSTANT_STORE_CREDIT.value
MIN_ARM_DECISIONS = 30
"""A rule's effect is priced only when its treated and its held-out side each have at least
this many decisions (as `report --offers` tests only groups of 30 orders or more)."""


@dataclass(slots=True)
class Arm:
    """Outcomes of one side of a rule (offers made, or held out)."""

    decisions: int = 0
    returned: int = 0
    returned_value: Decimal = Decimal(0)
    repurchase_known: int = 0
    repurchased: int = 0
    order_value: Decimal = Decimal(0)

    def add(self, after: Afterwards) -> None:
        self.decisions += 1
        self.returned += after.returned
        self.returned_value += after.returned_value
        self.order_value += after.order_value
        if after.repurchased is not None:
            self.repurchase_known += 1
            self.repurchased += after.repurchased

    def mean(self, total: Decimal | int) -> Decimal:
        return Decimal(total) / self.decisions

    def repurchase_share(self) -> Decimal | None:
        known = self.repurchase_known
        return Decimal(self.repurchased) / known if known >= MIN_ARM_DECISIONS else None


def measured_effect(treated: Arm, held_out: Arm, money: Money) -> Decimal | None:
    """A rule's effect in money, from its holdout: per treated decision, the returned value
    and the returns it saved (times the share of value a return loses and the return's cost)
    and the repurchases it added (times the margin on an order like the treated ones); None
    when a side is too small to compare."""
    if min(treated.decisions, held_out.decisions) < MIN_ARM_DECISIONS:
        return None
    fewer_value = held_out.mean(held_out.returned_value) - treated.mean(treated.returned_value)
    fewer_returns = held_out.mean(held_out.returned) - treated.mean(treated.returned)
    per_decision = fewer_value * _decimal(money.returned_value_loss) + fewer_returns * _decimal(
        money.return_cost
    )
    treated_share, held_out_share = treated.repurchase_share(), held_out.repurchase_share()
    if treated_share is not None and held_out_share is not None:
        margin = _decimal(money.margin_share) * treated.mean(treated.order_value)
        per_decision += (treated_share - held_out_share) * margin
    return (per_decision * treated.decisions).quantize(CENT)


@dataclass(slots=True)
class Ledger:
    """Counts and money of one group of decisions (a rule, a resolution, a segment)."""

    orders: int = 0
    requests: int = 0
    offers: int = 0
    held_out: int = 0
    instant_credits: int = 0
    offer_cost: Decimal = Decimal(0)
    credit_lost: Decimal = Decimal(0)
    protected: Decimal = Decimal(0)
    received: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """Value of requested items by received condition (`not_received`: never came back)."""
    treated: Arm = field(default_factory=Arm)
    untreated: Arm = field(default_factory=Arm)
    measured_effect: Decimal | None = None
    """Offer rules (and their sum in the total): see `measured_effect`."""

    @property
    def net(self) -> Decimal:
        return self.protected - self.offer_cost - self.credit_lost

    def row(self) -> dict[str, Any]:
        """The ledger as a table row: money to the cent, rates with their counts."""
        effect = self.measured_effect
        return {
            "orders": self.orders,
            "requests": self.requests,
            "offers_made": self.offers,
            "offers_held_out": self.held_out,
            "instant_credits": self.instant_credits,
            "offer_cost": _cents(self.offer_cost),
            "credit_lost": _cents(self.credit_lost),
            "protected": _cents(self.protected),
            "net": _cents(self.net),
            "measured_effect": None if effect is None else _cents(effect),
            "net_with_measured_effect": None if effect is None else _cents(self.net + effect),
            **{f"received_{c}": _cents(v) for c, v in sorted(self.received.items())},
            **_arm("treated", self.treated),
            **_arm("held_out", self.untreated),
        }


@dataclass(slots=True)
class PolicyLedgers:
    """One policy's ledgers: by offer rule, by resolution, by segment, and in total."""

    rules: dict[str, Ledger] = field(default_factory=lambda: defaultdict(Ledger))
    resolutions: dict[str, Ledger] = field(default_factory=lambda: defaultdict(Ledger))
    segments: dict[str, Ledger] = field(default_factory=lambda: defaultdict(Ledger))
    total: Ledger = field(default_factory=Ledger)


class BacktestError(ValueError):
    """The backtest cannot price a policy (one line, for the command line)."""


def require_economics(policy: Policy) -> EconomicsModel:
    if policy.economics is None:
        raise BacktestError(
            f"{policy.source}: no economics section: the backtest prices decisions with it"
        )
    return policy.economics


def price(decisions: Decisions, facts: LogFacts, policy: Policy) -> PolicyLedgers:
    """Every decision of `decisions` priced and put in its ledgers."""
    economics = require_economics(policy)
    ledgers = PolicyLedgers()
    return_of: dict[str, str] = {}
    for score in decisions.scores:
        segment = str(score["segment"])
        at = _time(score["source_occurred_at"])
        groups = [ledgers.segments[segment], ledgers.total]
        if score["return_id"] is None:
            for ledger in groups:
                ledger.orders += 1
            continue
        return_id = str(score["return_id"])
        return_of[str(score["source_event_id"])] = return_id
        resolution = str(score["recommended_resolution"])
        after = facts.after_request(return_id, str(score["customer_id"]), at)
        loss = _credit_loss(after, economics)
        for ledger in [*groups, ledgers.resolutions[resolution]]:
            ledger.requests += 1
            for (_, condition), value in after.by_condition.items():
                ledger.received[condition] += value
            if resolution == INSTANT_CREDIT:
                ledger.instant_credits += 1
                ledger.credit_lost += loss
            else:
                ledger.protected += loss
    for offer in decisions.offers:
        _price_offer(offer, ledgers, facts, economics, return_of)
    money = economics.money(None)  # a rule spans categories: the default's numbers
    for rule in ledgers.rules.values():
        rule.measured_effect = measured_effect(rule.treated, rule.untreated, money)
    measured = [r.measured_effect for r in ledgers.rules.values() if r.measured_effect is not None]
    if measured:
        ledgers.total.measured_effect = sum(measured, Decimal(0))
    return ledgers


def _price_offer(
    offer: dict[str, Any],
    ledgers: PolicyLedgers,
    facts: LogFacts,
    economics: EconomicsModel,
    return_of: dict[str, str],
) -> None:
    at, customer = _time(offer["created_at"]), str(offer["customer_id"])
    source = str(offer["source_event_id"])
    after = (
        facts.after_request(return_of[source], customer, at)
        if source in return_of
        else facts.after_order(str(offer["order_id"]), customer, at)
    )
    rule = ledgers.rules[str(offer["rule"])]
    rule.requests += source in return_of
    rule.orders += source not in return_of
    for (_, condition), value in after.by_condition.items():
        rule.received[condition] += value
    groups = [rule, ledgers.segments[str(offer["segment"])], ledgers.total]
    if offer["held_out"]:
        for ledger in groups:
            ledger.held_out += 1
        rule.untreated.add(after)
        return
    cost = offer_cost(offer, economics)
    for ledger in groups:
        ledger.offers += 1
        ledger.offer_cost += cost
    rule.treated.add(after)


def offer_cost(offer: dict[str, Any], economics: EconomicsModel) -> Decimal:
    """What making the offer costs: its value ('value', or no economics for its type) or the
    economics' fixed amount."""
    action = economics.economics.offers.get(OfferType(offer["offer_type"]))
    value = Decimal(str(offer["value"])) if offer.get("value") is not None else Decimal(0)
    if action is None or action.cost == "value":
        return value
    return Decimal(action.cost)


def _credit_loss(after: Afterwards, economics: EconomicsModel) -> Decimal:
    """What crediting the request at once loses: each item's value times the resale loss of
    the condition it came back in (all of it for items that never came back)."""
    return sum(
        (
            value * Decimal(str(economics.money(category).resale_loss[condition]))
            for (category, condition), value in after.by_condition.items()
        ),
        Decimal(0),
    )


def _time(value: object) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


def _cents(value: Decimal) -> float:
    return float(value.quantize(CENT))


def _arm(name: str, arm: Arm) -> dict[str, Any]:
    known = arm.repurchase_known
    return {
        f"{name}_decisions": arm.decisions,
        f"{name}_returned_share": arm.returned / arm.decisions if arm.decisions else None,
        f"{name}_returned_value": _cents(arm.returned_value),
        f"{name}_repurchase_known": known,
        f"{name}_repurchased_share": arm.repurchased / known if known else None,
    }
