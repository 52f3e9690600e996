"""One customer's story does not depend on who else is simulated."""

from __future__ import annotations

from typing import Any

import orjson

from tests.simulator.conftest import Simulate


def _of_customer(lines: list[str], customer_id: str) -> list[str]:
    return [line for line in lines if orjson.loads(line)["customer_id"] == customer_id]


def test_a_customer_is_the_same_in_a_small_and_a_larger_run(simulate: Simulate) -> None:
    small = simulate(customers=5, days=200, seed=12)
    large = simulate(customers=40, days=200, seed=12)
    for customer_id in ("cust-0000001", "cust-0000005"):
        mine = _of_customer(small, customer_id)
        assert mine and mine == _of_customer(large, customer_id)


def test_orders_often_follow_a_click_within_two_days(
    year_events: list[dict[str, Any]],
) -> None:
    from tests.simulator.log_analysis import parse_time

    last_click: dict[str, Any] = {}
    soon = orders = 0
    for event in year_events:
        if event["event_type"] == "campaign_touch" and event["action"] == "click":
            last_click[event["customer_id"]] = parse_time(event["occurred_at"])
        elif event["event_type"] == "order_placed":
            orders += 1
            click = last_click.get(event["customer_id"])
            at = parse_time(event["occurred_at"])
            soon += click is not None and (at - click).total_seconds() <= 2 * 86_400
    assert 0.15 < soon / orders < 0.5
