"""Reason texts from a row's own values, and which features become reasons."""

from __future__ import annotations

import math

import numpy as np

from explain.reasons import reason_text, top_reasons
from features.registry import FEATURE_NAMES


def getter(**values: object) -> object:
    return lambda name: values.get(name, math.nan)


def test_the_texts_the_issue_asks_for() -> None:
    history = getter(return_requests_count_365d=4.0, orders_count_365d=6.0)
    assert reason_text("return_requests_count_365d", history) == (  # type: ignore[arg-type]
        "returned 4 of the last 6 orders (the last year)"
    )
    sizes = getter(order_max_sizes_per_product=3.0)
    assert (
        reason_text("order_max_sizes_per_product", sizes) == "3 sizes of one product in this order"
    )  # type: ignore[arg-type]
    touch = getter(
        last_touch_channel="paid_social",
        touch_clicks_paid_social_count_7d=1.0,
        last_touch_discount_pct=40.0,
    )
    for name in ("last_touch_channel", "last_touch_discount_pct", "last_touch_campaign"):
        assert reason_text(name, touch) == "came from a paid social click with 40 % off"  # type: ignore[arg-type]


def test_every_feature_has_a_text_with_values_and_when_missing() -> None:
    for name in FEATURE_NAMES:
        for value in (math.nan, None, 0.0, 2.0, "vip"):
            text = reason_text(name, getter(**{name: value}))  # type: ignore[arg-type]
            assert text and "{" not in text


def test_reasons_follow_the_direction_of_the_score() -> None:
    names = ("a", "b", "c", "d")
    contributions = np.array(
        [
            [0.5, -0.1, 0.2, 0.0, -1.0],  # above average: biggest pushes up first
            [-0.5, 0.1, -0.2, -0.3, -1.0],  # below average: biggest pushes down first
            [0.0, 0.0, 0.0, 0.0, -1.0],  # no signal: feature order, deterministic
        ]
    )
    assert top_reasons(contributions, names).tolist() == [[0, 2, 3], [0, 3, 2], [0, 1, 2]]
