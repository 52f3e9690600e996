"""Policy economics: expected values by hand, choices among options, the instant-credit bound,
random holdouts, and a bad `economics` section refused with its field named."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.economics import order_value
from policy.rules import Memo, Policy, PolicyError, held_out
from schemas.outputs import OfferType, RecommendedResolution

ALERTS = {
    "high_risk_order": {"cooldown_hours": 1},
    "serial_returner": {"cooldown_hours": 1},
    "suspected_wardrobing": {"cooldown_hours": 1},
    "segment_return_spike": {"cooldown_hours": 1},
}
MIX = {"as_new": 0.8, "worn": 0.1, "damaged": 0.05, "missing_parts": 0.02, "wrong_item": 0.01,
       "not_received": 0.02}  # fmt: skip
LOSS = {"as_new": 0.0, "worn": 0.5, "damaged": 1.0, "missing_parts": 0.5, "wrong_item": 0.0,
        "not_received": 1.0}  # fmt: skip
ECONOMICS = {
    "categories": {
        "default": {
            "margin_share": 0.4,
            "return_cost": "6.00",
            "resale_loss": LOSS,
            "condition_mix": MIX,
        },
        "shoes": {"margin_share": 0.6},
    },
    "offers": {
        "exchange_bonus": {"cost": "value", "return_change": -0.5},
        "size_guidance": {"cost": "0.50", "return_change": -0.1},
        "loyalty_credit": {"cost": "value", "repurchase_change": 0.2},
    },
    "resolutions": {
        "exchange_first": {"cost": "2.00", "return_change": -0.4},
        "refund_after_inspection": {"cost": "1.00"},
    },
    "instant_credit": {"max_expected_loss": "10.00"},
}
AT = datetime(2025, 3, 1, tzinfo=UTC)


def policy(tmp_path: Path, **parts: object) -> Policy:
    document: dict[str, object] = {
        "resolutions": [{"resolution": "refund_after_inspection"}],
        "alerts": ALERTS,
        "economics": ECONOMICS,
        **parts,
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    return Policy.load(path)


def rule(**fields: object) -> dict[str, object]:
    return {
        "name": "r",
        "event": "order_placed",
        "when": "probability >= 0",
        "expires_in_days": 7,
        "cap": {"max": 100, "per_days": 1},
        "holdout": 0,
        **fields,
    }


def order(**values: object) -> dict[str, object]:
    return {"probability": 0.3, "order_gross_value": 100.0, "order_items": 4.0, **values}


def test_expected_values_match_a_hand_computation(tmp_path: Path) -> None:
    options = [{"offer": "exchange_bonus", "value": "5.00"}, {"offer": "size_guidance"}]
    made = policy(tmp_path, offers=[rule(options=options)]).offers(
        "order_placed", order(), Memo(), AT, key=1, customer_id="c"
    )
    # a returned sale of 100 loses its margin 40, the return's 6 and the goods' resale loss:
    # 60 x (0.1 x 0.5 + 0.05 x 1 + 0.02 x 0.5 + 0.02 x 1) = 60 x 0.13 = 7.8; 53.8 in all
    assert made[0].offer is OfferType.EXCHANGE_BONUS
    assert made[0].expected_value == pytest.approx(0.5 * 0.3 * 53.8 - 5.0)  # 3.07
    assert made[0].runner_up is OfferType.SIZE_GUIDANCE
    assert made[0].runner_up_expected_value == pytest.approx(0.1 * 0.3 * 53.8 - 0.5)  # 1.114


def test_the_best_option_depends_on_the_customer_and_order(tmp_path: Path) -> None:
    options = [{"offer": "exchange_bonus", "value": "5.00"}, {"offer": "size_guidance"}]
    chosen = policy(tmp_path, offers=[rule(options=options)])
    low = chosen.offers("order_placed", order(probability=0.05), Memo(), AT, 1, "c")
    assert low[0].offer is OfferType.SIZE_GUIDANCE  # 0.5 x 0.05 x 53.8 - 5 < 0.1 x ... - 0.5
    assert low[0].runner_up is OfferType.EXCHANGE_BONUS


def test_a_category_gives_only_what_differs_and_repurchase_is_valued_at_margin(
    tmp_path: Path,
) -> None:
    options = [{"offer": "loyalty_credit", "value": "3.00"}, {"offer": "size_guidance"}]
    chosen = policy(tmp_path, offers=[rule(options=options)])
    row = order(order_top_category="shoes", order_value_mean_365d=50.0)
    made = chosen.offers("order_placed", row, Memo(), AT, 1, "c")[0]
    assert made.offer is OfferType.LOYALTY_CREDIT
    assert made.expected_value == pytest.approx(0.2 * 0.6 * 50.0 - 3.0)  # 3.0
    # shoes: margin 0.6 and the default's costs: 60 + 6 + 40 x 0.13
    assert made.runner_up_expected_value == pytest.approx(0.1 * 0.3 * (60 + 6 + 40 * 0.13) - 0.5)


def test_without_the_orders_value_the_first_listed_option_is_made_unvalued(
    tmp_path: Path,
) -> None:
    options = [{"offer": "size_guidance"}, {"offer": "exchange_bonus", "value": "5.00"}]
    chosen = policy(tmp_path, offers=[rule(options=options)])
    made = chosen.offers("order_placed", order(order_gross_value=None), Memo(), AT, 1, "c")
    assert (made[0].offer, made[0].expected_value) == (OfferType.SIZE_GUIDANCE, None)


def test_a_requests_value_is_its_share_of_the_orders_items() -> None:
    assert order_value(order(request_items=1.0)) == pytest.approx(25.0)
    assert order_value(order(request_items=9.0)) == pytest.approx(100.0)
    assert order_value(order()) == pytest.approx(100.0)
    assert order_value(order(order_gross_value=float("nan"))) is None


def test_instant_credit_only_within_its_expected_loss(tmp_path: Path) -> None:
    chosen = policy(
        tmp_path,
        resolutions=[{"resolution": "instant_store_credit"}, {"resolution": "exchange_first"}],
    )
    trusted = order(request_items=4.0, returned_items_sum_365d=20.0)
    # never back 0.02 x 1, worn (0 + 5 x 0.1)/25 x 0.5, damaged (0 + 5 x 0.05)/25 x 1: 4 <= 10
    assert chosen.economics is not None
    assert chosen.economics.instant_credit_loss(trusted, 100.0) == pytest.approx(4.0)
    assert chosen.resolution(trusted) is RecommendedResolution.INSTANT_STORE_CREDIT
    wearer = {**trusted, "received_worn_count_365d": 10.0}
    # worn share (10 + 0.5)/25 = 0.42: 100 x (0.02 + 0.21 + 0.01) = 24 > 10
    assert chosen.resolution(wearer) is RecommendedResolution.EXCHANGE_FIRST
    unknown_value = {**trusted, "order_gross_value": None}
    assert chosen.resolution(unknown_value) is RecommendedResolution.EXCHANGE_FIRST


def test_resolution_options_are_chosen_by_expected_value(tmp_path: Path) -> None:
    chosen = policy(
        tmp_path, resolutions=[{"options": ["refund_after_inspection", "exchange_first"]}]
    )
    # exchange: 0.4 x 0.3 x 53.8 - 2 = 4.46 > refund's -1
    assert chosen.resolution(order(request_items=4.0)) is RecommendedResolution.EXCHANGE_FIRST
    assert chosen.resolution(order(probability=0.01)) is (
        RecommendedResolution.REFUND_AFTER_INSPECTION  # 0.4 x 0.01 x 53.8 - 2 < -1
    )


@settings(max_examples=20, deadline=None)
@given(share=st.sampled_from([0.0, 0.05, 0.1, 0.5, 1.0]), rule_name=st.sampled_from(["a", "b"]))
def test_holdouts_keep_their_share_of_customers(share: float, rule_name: str) -> None:
    customers = [f"customer-{i}" for i in range(4000)]
    out = sum(held_out(c, rule_name, share) for c in customers)
    spread = 4 * (len(customers) * share * (1 - share)) ** 0.5  # 4 standard deviations
    assert abs(out - len(customers) * share) <= spread
    assert [held_out(c, rule_name, share) for c in customers[:50]] == [
        held_out(c, rule_name, share) for c in customers[:50]
    ]


def test_holdouts_of_two_rules_are_independent() -> None:
    customers = [f"customer-{i}" for i in range(20_000)]
    both = sum(held_out(c, "a", 0.5) and held_out(c, "b", 0.5) for c in customers)
    assert abs(both - 5000) <= 4 * (20_000 * 0.25 * 0.75) ** 0.5


def test_a_held_out_customer_is_decided_and_counted_but_marked(tmp_path: Path) -> None:
    chosen = policy(tmp_path, offers=[rule(offer="size_guidance", holdout=1.0)])
    memo = Memo()
    made = chosen.offers("order_placed", order(), memo, AT, 1, "c")
    assert [(o.offer, o.held_out) for o in made] == [(OfferType.SIZE_GUIDANCE, True)]
    assert memo.offered["r"]  # counts toward the cap as a made offer would


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"offers": {"size_guidance": {"cost": "-1"}}}, "economics.offers.size_guidance"),
        ({"instant_credit": {"max_expected_loss": "-5"}}, "economics.instant_credit"),
        ({"categories": {"shoes": {"margin_share": 0.5}}}, "economics: categories: a 'default'"),
        (
            {"categories": {"default": {**ECONOMICS["categories"]["default"], "margin_share": 2}}},  # type: ignore[index]
            "economics.categories.default.margin_share",
        ),
        (
            {"categories": {"default": {**ECONOMICS["categories"]["default"],  # type: ignore[index]
                                        "condition_mix": {**MIX, "worn": 0.5}}}},
            "condition_mix sums to",
        ),
        ({"offers": {"size_guidance": {"return_change": -2}}}, "return_change"),
        ({"offers": {"sizing_help": {"cost": "1"}}}, "economics.offers.sizing_help"),
    ],
)  # fmt: skip
def test_a_bad_economics_section_is_refused_naming_its_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    with pytest.raises(PolicyError, match=field.replace(".", r"\.")):
        policy(tmp_path, economics={**ECONOMICS, **change})


def test_a_holdout_outside_0_to_1_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"offers\.0\.holdout"):
        policy(tmp_path, offers=[rule(offer="size_guidance", holdout=1.5)])


def test_options_need_economics(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"offers\.r choose among options"):
        policy(tmp_path, economics=None, offers=[rule(options=[{"offer": "size_guidance"}])])


def test_an_unknown_category_is_refused_against_the_models_categories(tmp_path: Path) -> None:
    chosen = policy(tmp_path)
    chosen.check_categories(frozenset({"shoes", "apparel"}), "model v1")
    with pytest.raises(PolicyError, match=r"economics\.categories\.shoes: unknown category"):
        chosen.check_categories(frozenset({"apparel"}), "model v1")
