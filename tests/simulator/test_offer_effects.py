"""`simulate --offers`: planted offer effects change only the offered orders, and the holdout
analysis of `report --offers` recovers them within its 95 % interval."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from analytics.dataset import Selection
from analytics.offers import LogOrders, OfferTables, offer_tables
from schemas import InputEvent, decode_event
from schemas.outputs import Offer
from simulator.config import DEFAULT_CONFIG, ConfigError, OfferEffect, SimulatorConfig, load_config
from simulator.offer_effects import OfferPlan
from simulator.runner import simulate_events
from tests.analytics.logs import tables_of

START = date(2025, 1, 1)
GUIDE, CREDIT = "guide", "credit"
"""Two rules: size guidance on every order, loyalty credit on each customer's first order."""


def _simulate(
    config: SimulatorConfig, customers: int, seed: int, plan: OfferPlan | None = None
) -> list[str]:
    lines, _ = simulate_events(
        config, customers=customers, days=365, seed=seed, start=START, offers=plan
    )
    return lines


def _held_out(customer: str, rule: str) -> bool:
    """Half of the customers, by a hash of customer and rule (as the policy decides)."""
    return hashlib.blake2b(f"{rule}/{customer}".encode(), digest_size=8).digest()[0] < 128


def _offers(lines: list[str]) -> list[Offer]:
    """A guide offer on every order and a credit offer on each customer's first order."""
    offers, first = [], set()
    for line in lines:
        event = orjson.loads(line)
        if event["event_type"] != "order_placed":
            continue
        rules = [(GUIDE, "size_guidance")]
        if event["customer_id"] not in first:
            first.add(event["customer_id"])
            rules.append((CREDIT, "loyalty_credit"))
        for rule, offer_type in rules:
            offers.append(_offer(event, rule, offer_type))
    return offers


def _offer(event: dict[str, Any], rule: str, offer_type: str) -> Offer:
    created = event["occurred_at"]
    return Offer.model_validate(
        {
            "offer_id": f"{rule}:{event['event_id']}",
            "offer_type": offer_type,
            "customer_id": event["customer_id"],
            "segment": "default",
            "band": "medium",
            "rule": rule,
            "source_event_id": event["event_id"],
            "created_at": created,
            "expires_at": created,
            "order_id": event["order_id"],
            "held_out": _held_out(event["customer_id"], rule),
        },
        strict=False,
    )


def _effects(config: SimulatorConfig, **effects: OfferEffect) -> SimulatorConfig:
    return config.model_copy(update={"offer_effects": effects})


def _plan(offers: list[Offer], config: SimulatorConfig) -> OfferPlan:
    return OfferPlan.build(offers, config.offer_effects, START)


def _events(lines: list[str]) -> list[InputEvent]:
    return [decode_event(line.encode()) for line in lines]


def _measure(lines: list[str], offers: list[Offer]) -> OfferTables:
    events = _events(lines)
    return offer_tables(
        offers, LogOrders.from_events(events), tables_of(events, selection=Selection())
    )


def _about_offered(line: str, offered: set[str]) -> bool:
    order_id = orjson.loads(line).get("order_id", "")
    return order_id in offered or "-x" in order_id


def test_no_effect_or_only_held_out_offers_leave_the_log_byte_for_byte(
    default_config: SimulatorConfig,
) -> None:
    plain = _simulate(default_config, 120, seed=11)
    offers = _offers(plain)
    no_effect = _effects(default_config)
    assert _simulate(no_effect, 120, 11, _plan(offers, no_effect)) == plain
    held_out = [o.model_copy(update={"held_out": True}) for o in offers]
    planted = _effects(default_config, size_guidance=OfferEffect(return_change=-1.0))
    plan = _plan(held_out, planted)
    assert _simulate(planted, 120, 11, plan) == plain
    assert plan.made == 0 and plan.held_out == len(offers)


def test_planted_effects_change_only_the_offered_orders(default_config: SimulatorConfig) -> None:
    plain = _simulate(default_config, 150, seed=12)
    offers = _offers(plain)
    config = _effects(
        default_config,
        size_guidance=OfferEffect(return_change=-1.0),
        loyalty_credit=OfferEffect(repurchase_change=1.0),
    )
    plan = _plan(offers, config)
    planted = _simulate(config, 150, 12, plan)
    offered = {o.order_id for o in offers if not o.held_out and o.order_id}
    gone, new = set(plain) - set(planted), set(planted) - set(plain)
    assert gone and new
    assert all(_about_offered(line, offered) for line in gone | new)
    assert plan.unmatched == 0 and len(plan.matched) == plan.made
    events = [orjson.loads(line) for line in planted]
    commercial_back = {
        e["order_id"] for e in events
        if e["event_type"] == "return_requested" and e["return_type"] == "commercial"
    }  # fmt: skip
    guided = {o.order_id for o in offers if o.rule == GUIDE and not o.held_out}
    assert guided and not commercial_back & guided  # return_change -1: every one kept
    extra = {e["order_id"] for e in events if e["event_type"] == "order_placed"} - {
        orjson.loads(line).get("order_id") for line in plain
    }
    credited = [o for o in offers if o.rule == CREDIT and not o.held_out]
    in_window = [o for o in credited if o.created_at.date() < START + timedelta(days=364 - 89)]
    assert len(in_window) <= len(extra) <= len(credited)  # repurchase_change 1: one each


def test_an_offer_on_a_return_request_does_not_change_that_orders_returns(
    default_config: SimulatorConfig,
) -> None:
    plain = _simulate(default_config, 150, seed=13)
    requests = [orjson.loads(line) for line in plain]
    offers = [
        _offer(e, GUIDE, "size_guidance").model_copy(update={"held_out": False})
        for e in requests
        if e["event_type"] == "return_requested"
    ]
    config = _effects(default_config, size_guidance=OfferEffect(return_change=-1.0))
    plan = _plan(offers, config)
    assert _simulate(config, 150, 13, plan) == plain
    assert plan.made == len(offers) > 0 and plan.unmatched == 0


def test_offers_of_another_run_are_counted_as_unmatched(default_config: SimulatorConfig) -> None:
    offers = _offers(_simulate(default_config, 60, seed=14))
    config = _effects(default_config, size_guidance=OfferEffect(return_change=-0.5))
    plan = _plan(offers, config)
    _simulate(config, 60, 15, plan)
    assert plan.unmatched == plan.made > 0


def test_the_holdout_analysis_recovers_planted_effects(default_config: SimulatorConfig) -> None:
    """Truth from the log without effects: the offered orders' return rate times the change
    (every return of an order dropped with that probability), and one minus their repurchase
    rate times the chance of a planted repurchase."""
    plain = _simulate(default_config, 1000, seed=16)
    offers = _offers(plain)
    config = _effects(
        default_config,
        size_guidance=OfferEffect(return_change=-0.4),
        loyalty_credit=OfferEffect(repurchase_change=0.3),
    )
    before = _measure(plain, offers)
    after = _measure(_simulate(config, 1000, 16, _plan(offers, config)), offers)
    checks = [
        (before.return_rate, after.return_rate, GUIDE, "return_rate", lambda p: -0.4 * p),
        (before.repurchase, after.repurchase, CREDIT, "repurchase_rate", lambda p: 0.3 * (1 - p)),
    ]
    for natural, planted, rule, metric, effect in checks:
        truth = effect(natural.set_index("rule").loc[rule, f"treated_{metric}"])
        row = planted.set_index("rule").loc[rule]
        assert row[f"{metric}_difference_ci_low"] <= truth <= row[f"{metric}_difference_ci_high"]
        assert row["flagged"], (rule, metric, truth)
    assert not before.flagged().size  # nothing planted, nothing flagged


def test_offer_effects_name_the_bad_key(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for effects, message in (
        ({"free_coffee": {"return_change": -0.1}}, "unknown offer types ['free_coffee']"),
        ({"size_guidance": {"return_change": -1.5}}, "offer_effects.size_guidance.return_change"),
        ({"size_guidance": {"repurchase_change": -0.1}}, "repurchase_change"),
    ):
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({**data, "offer_effects": effects}))
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_config(path)
