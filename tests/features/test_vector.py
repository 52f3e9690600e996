"""Each feature on a hand-built history, against an answer computed by hand."""

from __future__ import annotations

import math

import pytest

from features.basket import BASKET_FEATURE_NAMES
from features.config import FeatureConfig
from features.order import ORDER_FEATURE_NAMES, order_features
from features.registry import FEATURE_NAMES
from features.state import CustomerState, apply_event
from features.vector import feature_values, return_request_values
from schemas import InputEvent
from tests.fixtures.typed_events import at, line, order, profile, receipt, return_request, touch

CONFIG = FeatureConfig()


def features_at(history: list[InputEvent], scored: object = None, **config: object) -> dict:
    cfg = CONFIG.model_copy(update=config)
    state = CustomerState()
    for event in history:
        apply_event(state, event, cfg)
    scored = scored or order(at(100), "scored")
    return feature_values(state, scored, cfg)  # type: ignore[arg-type]


def test_vector_has_every_registered_feature_in_order() -> None:
    assert list(features_at([])) == list(FEATURE_NAMES)


def test_empty_history_is_missing_not_zero_where_it_matters() -> None:
    values = features_at([])
    assert values["orders_count_365d"] == 0.0
    assert math.isnan(values["tenure_days"])
    assert math.isnan(values["days_since_last_order"])
    assert values["lifecycle_stage"] == "new"
    assert values["returned_items_rate_365d"] == pytest.approx(CONFIG.return_rate_prior)
    assert math.isnan(values["order_to_return_days_mean_365d"])
    assert values["last_touch_channel"] is None
    assert values["loyalty_tier"] is None


def test_purchase_windows_counts_spend_and_discount() -> None:
    history = [
        order(at(-200), "o1", line("a-1", "100.00", 1, discount="20.00")),  # in 365d only
        order(at(50), "o2", line("b-1", "10.00", 3)),  # 50 days before: in 90d and 365d
        order(at(95), "o3", line("c-1", "25.00", 2)),  # 5 days before: every window
    ]
    v = features_at(history)
    assert [v[f"orders_count_{w}d"] for w in (7, 30, 90, 365)] == [1.0, 1.0, 2.0, 3.0]
    assert [v[f"items_sum_{w}d"] for w in (30, 90, 365)] == [2.0, 5.0, 6.0]
    assert [v[f"gross_spend_sum_{w}d"] for w in (30, 90, 365)] == [50.0, 80.0, 180.0]
    assert v["order_value_mean_365d"] == pytest.approx(60.0)
    assert v["discount_share_365d"] == pytest.approx(20 / 180)
    assert v["orders_count_lifetime"] == 3.0
    assert v["tenure_days"] == pytest.approx(300.0)
    assert v["days_since_last_order"] == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("order_days", "stage"),
    [
        ([90], "new"),  # first order 10 days ago
        ([-200], "lapsed"),  # last order 300 days ago
        ([-100, 10, 20, 30, 40, 50], "loyal"),  # 6 orders in 365 days
        ([-100, 50], "active"),
    ],
)
def test_lifecycle_stage(order_days: list[int], stage: str) -> None:
    history = [order(at(d), f"o{i}") for i, d in enumerate(order_days)]
    assert features_at(history)["lifecycle_stage"] == stage


def test_return_counts_values_rates_and_mix() -> None:
    history = [
        order(at(-200), "o1", line("a-1", "40.00", 2, discount="10.00"), line("b-1", "20.00")),
        return_request(at(-190), "o1", ("a-1", 1, "size_too_small"), resolution="exchange"),
        order(at(40), "o2", line("c-1", "30.00", 2)),
        return_request(at(52), "o2", ("c-1", 2, "damaged"), resolution="refund"),
        return_request(at(60), "o2", ("c-1", 1, "defective"), return_type="service"),
        return_request(at(61), "o1", ("b-1", 1, "other"), return_type="end_of_life"),
        receipt(at(58), "o2", ("c-1", 1, "worn"), ("c-1", 1, "damaged")),
    ]
    v = features_at(history)
    assert [v[f"return_requests_count_{w}d"] for w in (30, 90, 365)] == [0.0, 1.0, 2.0]
    assert v["returned_items_sum_90d"] == 2.0
    assert v["returned_items_sum_365d"] == 3.0
    # a-1 unit net = (80 - 10) / 2 = 35; c-1 unit net = 30
    assert v["returned_value_sum_90d"] == pytest.approx(60.0)
    assert v["returned_value_sum_365d"] == pytest.approx(95.0)
    # items rate: (returned + 0.2 * 4) / (bought + 4)
    assert v["returned_items_rate_90d"] == pytest.approx((2 + 0.8) / (2 + 4))
    assert v["returned_items_rate_365d"] == pytest.approx((3 + 0.8) / (5 + 4))
    # value rate in cents with a prior of 4 pseudo-items of 50.00
    assert v["returned_value_rate_90d"] == pytest.approx((6000 + 4000) / (6000 + 20000))
    assert v["returned_value_rate_365d"] == pytest.approx((9500 + 4000) / (15000 + 20000))
    assert v["order_to_return_days_mean_365d"] == pytest.approx((10 + 12) / 2)
    assert v["return_reason_fit_share_365d"] == pytest.approx(1 / 3)
    assert v["return_reason_quality_share_365d"] == pytest.approx(2 / 3)
    assert v["return_reason_other_share_365d"] == 0.0
    assert v["resolution_refund_share_365d"] == 0.5
    assert v["resolution_exchange_share_365d"] == 0.5
    assert v["resolution_store_credit_share_365d"] == 0.0
    assert v["received_worn_count_365d"] == 1.0
    assert v["received_damaged_count_365d"] == 1.0
    assert v["service_returns_count_365d"] == 1.0
    assert v["end_of_life_returns_count_365d"] == 1.0


def test_bracketing_and_repurchase_after_return() -> None:
    history = [
        order(
            at(10),
            "o1",
            line("a-s", "40.00", size="S", product="p1"),
            line("a-m", "40.00", size="M", product="p1"),
        ),
        return_request(at(20), "o1", ("a-s", 1, "size_too_small")),
        order(at(30), "o2", line("a-m2", "40.00", size="M", product="p1")),  # p1 again
        order(
            at(40),
            "o3",
            line("x-1", "10.00", color="red", product="p2"),
            line("x-2", "10.00", color="blue", product="p2"),
        ),
        order(at(15), "o4", line("a-l", "40.00", product="p1")),  # before the return
    ]
    v = features_at(history)
    assert v["bracketing_orders_count_365d"] == 2.0
    assert v["repurchase_after_return_count_365d"] == 1.0


def test_marketing_touches_last_touch_prefers_clicks() -> None:
    history = [
        touch(at(92), "email", "impression"),  # 8 days before: outside 7d
        touch(at(94), "email", "open"),
        touch(at(95), "paid_social", "click", campaign="summer", discount="30"),
        touch(at(96), "paid_social", "impression"),
        touch(at(99, hours=12), "display", "impression", campaign="late"),
        touch(at(100, hours=1), "influencer", "click"),  # after the order: not counted
    ]
    v = features_at(history)
    assert v["touch_views_email_count_7d"] == 1.0
    assert v["touch_clicks_paid_social_count_7d"] == 1.0
    assert v["touch_views_paid_social_count_7d"] == 1.0
    assert v["touch_views_display_count_7d"] == 1.0
    assert v["touch_clicks_influencer_count_7d"] == 0.0
    assert v["last_touch_channel"] == "paid_social"
    assert v["last_touch_campaign"] == "summer"
    assert v["last_touch_discount_pct"] == 30.0
    assert v["last_touch_age_hours"] == pytest.approx(5 * 24)


def test_profile_as_of_the_scoring_moment() -> None:
    history = [
        profile(at(-10), "silver", signup=at(-40), country="FR", staff=True),
        profile(at(101), "vip", signup=at(-40)),  # after the order: not yet known
    ]
    v = features_at(history)
    assert v["loyalty_tier"] == "silver"
    assert v["is_staff"] == 1.0
    assert v["account_age_days"] == pytest.approx(140.0)
    assert v["country"] == "FR"
    assert v["email_opt_in"] == 1.0


def test_order_level_features() -> None:
    scored = order(
        at(0),
        "o",
        line("a-s", "80.00", 1, size="S", product="p1", discount="20.00"),
        line("a-m", "80.00", 1, size="M", product="p1"),
        line("a-l", "80.00", 1, size="L", product="p1", color="red"),
        line("k-1", "20.00", 2, product="p2", category="accessories"),
        payment_method="bnpl",
        channel="app",
        promo_code="WELCOME10",
    )
    v = order_features(scored, CONFIG)
    assert v == {
        "order_items": 5.0,
        "order_distinct_products": 2.0,
        "order_max_sizes_per_product": 3.0,
        "order_max_colors_per_product": 2.0,
        "order_fit_category_share": pytest.approx(3 / 5),
        "order_top_category": "apparel",
        "order_gross_value": 280.0,
        "order_discount_depth": pytest.approx(20 / 280),
        "order_payment_method": "bnpl",
        "order_channel": "app",
        "order_price_tier": "mid",  # mean unit price 56
        "order_has_promo_code": 1.0,
        "order_lines": 4.0,
        "order_line_quantity_mean": 5 / 4,
        "order_line_quantity_max": 2.0,
        "order_unit_price_mean": 65.0,  # (80 + 80 + 80 + 20) / 4
    }


def test_the_order_and_its_basket_are_the_registrys_last_block() -> None:
    names = [*order_features(order(at(0), "o"), CONFIG), *BASKET_FEATURE_NAMES]
    assert names[: len(ORDER_FEATURE_NAMES)] == list(ORDER_FEATURE_NAMES)
    assert list(FEATURE_NAMES[-len(names) :]) == names


def test_a_return_request_reads_the_customer_now_and_the_returned_order_as_placed() -> None:
    bought = order(
        at(0),
        "o1",
        line("a-s", "80.00", size="S", product="p1"),
        line("a-m", "80.00", size="M", product="p1"),
        payment_method="bnpl",
    )
    state = CustomerState()
    for event in (bought, order(at(5), "o2", line("z-1", "10.00"))):
        apply_event(state, event, CONFIG)
    request = return_request(at(9), "o1", ("a-s", 1, "size_too_small"))
    v = return_request_values(state, request, CONFIG)
    expected = order_features(bought, CONFIG)
    assert {name: v[name] for name in ORDER_FEATURE_NAMES} == expected
    assert v["orders_count_30d"] == 2.0
    assert v["days_since_last_order"] == pytest.approx(4.0)
    unknown = return_request_values(state, return_request(at(9), "nope", ("x", 1, "other")), CONFIG)
    assert math.isnan(unknown["order_items"]) and unknown["order_top_category"] is None
