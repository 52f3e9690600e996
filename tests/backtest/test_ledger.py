"""A backtest's money, checked by hand to the cent on a small log.

| event | customer | day | what |
| o1 | c1 | 0 | a: 2 x 30.00 - 6.00 discount (27.00 each), b: 1 x 50.00 |
| o2 | c2 | 1 | c: 1 x 80.00 |
| r1 | c1 | 5 | o1: 2 x a -> received day 8: 1 as new, 1 worn |
| r2 | c2 | 3 | o2: 1 x c -> never received |
| o3 | c1 | 40 | d: 1 x 10.00 (c1 buys again) |
| (end) | | 60 | a profile update |

Economics: resale loss as new 0.05, worn 0.6, never received 1.0; size guidance costs 0.20.
Decisions: r1 instant credit, r2 refund after inspection; rule "bonus" offers o1 an exchange
bonus of 5.00 (made) and o2 one (held out); rule "guide" offers o3 size guidance (made).

credit lost (r1) = 27.00 x 0.05 + 27.00 x 0.6 = 1.35 + 16.20 = 17.55
protected (r2)   = 80.00 x 1.0 = 80.00
offer cost       = 5.00 (o1) + 0.20 (o3); the held-out o2 offer costs nothing
net              = 80.00 - 5.20 - 17.55 = 57.25
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from backtest.ledger import Arm, BacktestError, measured_effect, price
from backtest.outcomes import LogFacts
from backtest.replay import Decisions
from policy.rules import Policy
from tests.fixtures.typed_events import at, line, order, profile, receipt, return_request

LOSS = {"as_new": 0.05, "worn": 0.6, "damaged": 0.9, "missing_parts": 0.5, "wrong_item": 0.1,
        "not_received": 1.0}  # fmt: skip
MIX = {"as_new": 0.8, "worn": 0.1, "damaged": 0.05, "missing_parts": 0.02, "wrong_item": 0.01,
       "not_received": 0.02}  # fmt: skip
POLICY = {
    "resolutions": [{"resolution": "refund_after_inspection"}],
    "alerts": {
        "high_risk_order": {"cooldown_hours": 1},
        "serial_returner": {"cooldown_hours": 1},
        "suspected_wardrobing": {"cooldown_hours": 1},
        "segment_return_spike": {"cooldown_hours": 1},
    },
    "economics": {
        "categories": {
            "default": {
                "margin_share": 0.5,
                "return_cost": "5",
                "resale_loss": LOSS,
                "condition_mix": MIX,
            }
        },
        "offers": {"size_guidance": {"cost": "0.20"}, "exchange_bonus": {"cost": "value"}},
        "instant_credit": {"max_expected_loss": "100"},
    },
}


def _events() -> list[Any]:
    r1 = return_request(at(5), "o1", ("a", 2, "size_too_small")).model_copy(
        update={"return_id": "r1", "event_id": "req-1"}
    )
    r2 = return_request(at(3), "o2", ("c", 1, "changed_mind"), customer="c2").model_copy(
        update={"return_id": "r2", "event_id": "req-2"}
    )
    got = receipt(at(8), "o1", ("a", 1, "as_new"), ("a", 1, "worn")).model_copy(
        update={"return_id": "r1"}
    )
    return [
        order(at(0), "o1", line("a", "30.00", 2, discount="6.00"), line("b", "50.00", 1)),
        order(at(1), "o2", line("c", "80.00", 1), customer="c2"),
        r1,
        r2,
        got,
        order(at(40), "o3", line("d", "10.00", 1)),
        profile(at(60), customer="c3"),
    ]


def _score(
    customer: str,
    order_id: str,
    day: float,
    return_id: str | None = None,
    resolution: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "segment": "vip" if customer == "c1" else "new",
        "source_event_id": event_id or f"ev-{order_id}",
        "source_occurred_at": at(day).isoformat(),
        "customer_id": customer,
        "order_id": order_id,
        "return_id": return_id,
        "recommended_resolution": resolution,
    }


def _offer(
    rule: str,
    kind: str,
    customer: str,
    order_id: str,
    day: float,
    value: str | None,
    held_out: bool,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "offer_type": kind,
        "customer_id": customer,
        "segment": "vip" if customer == "c1" else "new",
        "order_id": order_id,
        "source_event_id": f"ev-{order_id}",
        "created_at": at(day).isoformat(),
        "value": value,
        "held_out": held_out,
    }


def _decisions() -> Decisions:
    return Decisions(
        scores=[
            _score("c1", "o1", 0),
            _score("c2", "o2", 1),
            _score("c2", "o2", 3, "r2", "refund_after_inspection", "req-2"),
            _score("c1", "o1", 5, "r1", "instant_store_credit", "req-1"),
            _score("c1", "o3", 40),
        ],
        offers=[
            _offer("bonus", "exchange_bonus", "c1", "o1", 0, "5.00", held_out=False),
            _offer("bonus", "exchange_bonus", "c2", "o2", 1, "5.00", held_out=True),
            _offer("guide", "size_guidance", "c1", "o3", 40, None, held_out=False),
        ],
    )


def _policy(tmp_path: Path, document: dict[str, Any]) -> Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    return Policy.load(path)


def test_money_matches_a_hand_computation_to_the_cent(tmp_path: Path) -> None:
    ledgers = price(_decisions(), LogFacts(_events()), _policy(tmp_path, POLICY))
    total = ledgers.total.row()
    assert (total["credit_lost"], total["protected"], total["offer_cost"]) == (17.55, 80.0, 5.2)
    assert total["net"] == 57.25
    assert (total["orders"], total["requests"], total["instant_credits"]) == (3, 2, 1)
    assert (total["offers_made"], total["offers_held_out"]) == (2, 1)
    assert (total["received_as_new"], total["received_worn"]) == (27.0, 27.0)
    assert total["received_not_received"] == 80.0
    assert ledgers.segments["vip"].row()["net"] == -(17.55 + 5.2)
    assert ledgers.segments["new"].row()["net"] == 80.0
    assert ledgers.resolutions["instant_store_credit"].row()["credit_lost"] == 17.55


def test_a_rule_compares_its_treated_and_held_out_outcomes(tmp_path: Path) -> None:
    bonus = price(_decisions(), LogFacts(_events()), _policy(tmp_path, POLICY)).rules["bonus"]
    row = bonus.row()
    assert (row["offers_made"], row["offers_held_out"], row["orders"]) == (1, 1, 2)
    assert row["treated_returned_share"] == 1.0 and row["held_out_returned_share"] == 1.0
    assert row["treated_returned_value"] == 54.0  # both a's of o1
    assert row["treated_repurchased_share"] == 1.0  # o3 on day 40
    assert row["held_out_repurchase_known"] == 0  # c2's 90 days run past the log's end
    # what came back of the touched orders: o1's a's (one as new, one worn), o2's c (never)
    assert (row["received_as_new"], row["received_worn"]) == (27.0, 27.0)
    assert row["received_not_received"] == 80.0


def test_items_not_back_before_the_log_ends_are_pending_not_lost(tmp_path: Path) -> None:
    events = [e for e in _events() if e.occurred_at <= at(20)]  # the log ends on day 8
    total = price(_decisions(), LogFacts(events), _policy(tmp_path, POLICY)).total.row()
    assert total["protected"] == 0.0  # r2's 30 days are not over: its item may still come
    assert total["credit_lost"] == 17.55


def test_a_policy_without_economics_cannot_be_priced(tmp_path: Path) -> None:
    without = {key: value for key, value in POLICY.items() if key != "economics"}
    with pytest.raises(BacktestError, match="no economics section"):
        price(_decisions(), LogFacts(_events()), _policy(tmp_path, without))


def test_a_rules_measured_effect_is_priced_from_its_holdout(tmp_path: Path) -> None:
    """40 treated decisions against 40 held out. Per decision the treated return 10.00 less
    value and 0.25 fewer orders, and repurchase 0.25 more, on orders worth 100.00. A returned
    value loses the margin and the resale loss of the usual mix: 0.5 + 0.5 x 0.176 = 0.588.

    per decision = 10.00 x 0.588 + 0.25 x 5.00 + 0.25 x 0.5 x 100.00 = 5.88 + 1.25 + 12.50
    effect       = 40 x 19.63 = 785.20
    """
    money = _policy(tmp_path, POLICY).economics.money(None)  # type: ignore[union-attr]
    treated = Arm(40, 10, Decimal("400"), 40, 20, Decimal("4000"))
    held_out = Arm(40, 20, Decimal("800"), 40, 10, Decimal("4000"))
    assert measured_effect(treated, held_out, money) == Decimal("785.20")
    smaller = Arm(29, 10, Decimal("400"), 29, 20, Decimal("2900"))
    assert measured_effect(treated, smaller, money) is None  # a side under 30: not priced
    unknown = Arm(40, 20, Decimal("800"), 29, 10, Decimal("4000"))
    assert measured_effect(treated, unknown, money) == Decimal("40") * Decimal("7.13")
