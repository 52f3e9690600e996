"""Return logistics in a year of the default config: types, reasons, conditions, refunds."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from simulator.config import SimulatorConfig
from simulator.customers import draw_customer
from simulator.journey import customer_rng
from simulator.world import build_world
from tests.simulator.conftest import EFFECT_CUSTOMERS, EFFECT_SEED, START
from tests.simulator.log_analysis import OrderFacts

SIZE_REASONS = {"size_too_small", "size_too_large"}


def _of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == kind]


def test_return_types_are_mostly_commercial(year_events: list[dict[str, Any]]) -> None:
    types = Counter(e["return_type"] for e in _of_type(year_events, "return_requested"))
    total = sum(types.values())
    assert types["commercial"] / total > 0.9
    assert types["service"] > 20 and types["end_of_life"] > 5


def test_size_problems_are_exchanged_more_often(year_events: list[dict[str, Any]]) -> None:
    def exchange_share(size: bool) -> float:
        requests = [
            e
            for e in _of_type(year_events, "return_requested")
            if e["return_type"] == "commercial"
            and any(line["reason_code"] in SIZE_REASONS for line in e["lines"]) == size
        ]
        exchanges = sum(e["preferred_resolution"] == "exchange" for e in requests)
        return float(exchanges) / len(requests)

    assert exchange_share(size=True) > exchange_share(size=False) + 0.25


def test_reasons_follow_the_category(year_orders: list[OrderFacts]) -> None:
    reasons: dict[str, Counter[str]] = {}
    for order in year_orders:
        for line in order.lines:
            reason = order.return_reasons.get(line["sku"])
            if reason is not None:
                reasons.setdefault(line["category"], Counter())[reason] += 1

    def share(category: str, wanted: set[str]) -> float:
        counts = reasons[category]
        return sum(counts[r] for r in wanted) / sum(counts.values())

    assert share("apparel", SIZE_REASONS) > 0.5
    assert share("shoes", SIZE_REASONS) > 0.5
    assert share("electronics", {"defective", "damaged"}) > 0.5
    assert reasons["electronics"].most_common(1)[0][0] == "defective"
    assert share("beauty", SIZE_REASONS) == 0


def test_serial_returners_send_back_worn_items_more_often(
    year_events: list[dict[str, Any]], default_config: SimulatorConfig
) -> None:
    world = build_world(default_config, EFFECT_SEED, START, 365)
    serial = {
        c.customer_id
        for i in range(EFFECT_CUSTOMERS)
        if (c := draw_customer(world, i, customer_rng(EFFECT_SEED, i))).serial_returner
    }
    worn: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for event in _of_type(year_events, "return_received"):
        for line in event["lines"]:
            worn[event["customer_id"] in serial][line["condition"]] += line["quantity"]

    def worn_share(counts: Counter[str]) -> float:
        return counts["worn"] / sum(counts.values())

    assert sum(worn[True].values()) > 200
    assert worn_share(worn[True]) > 3 * worn_share(worn[False])


def test_refunds_never_exceed_what_was_paid(year_events: list[dict[str, Any]]) -> None:
    paid: dict[tuple[str, str], float] = {}
    for order in _of_type(year_events, "order_placed"):
        for line in order["lines"]:
            unit = float(line["unit_price"]) - float(line["discount_amount"]) / line["quantity"]
            paid[order["order_id"], line["sku"]] = unit
    received = _of_type(year_events, "return_received")
    assert sum(float(e["refund_amount"]) > 0 for e in received) > 0.5 * len(received)
    for event in received:
        most = sum(paid[event["order_id"], ln["sku"]] * ln["quantity"] for ln in event["lines"])
        assert float(event["refund_amount"]) <= most + 0.01


def test_december_returns_are_pushed_after_christmas(simulate: Any) -> None:
    """A share of gift-season orders are gifts returned after Christmas: January's returns
    stand well above an ordinary month's (about 1.3x with the default 35 % gift share)."""
    import orjson

    lines = simulate(customers=1500, days=365, seed=4, start=date(2025, 7, 1))
    months = Counter(
        e["occurred_at"][5:7]
        for e in map(orjson.loads, lines)
        if e["event_type"] == "return_requested"
    )
    ordinary = [months[m] for m in ("03", "04", "05", "10")]
    assert months["01"] > 1.2 * max(ordinary)
