"""Segments, --filter and --segment-by go through the models' rules and evaluator."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.segmentation import (
    MARKETING_FEATURES,
    SegmentPlanError,
    build_plan,
    customer_type,
    group_label,
)
from models.expressions import ExpressionError
from models.segments import SegmentConfigError
from schemas import InputEvent
from tests.analytics.logs import known_events, tables_of

CUSTOM = """
version: 1
segments:
  - {name: de_premium, rule: "country == 'DE' and loyalty_tier in ['gold', 'vip']"}
  - {name: everyone, default: true}
"""


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("__import__('os').system('true')", "function calls are not allowed"),
        ("country.real == 'DE'", "attribute access"),
        ("orders_count_365d + 1 > 2", "arithmetic is not allowed"),
        ("loyalty_tier == 3", "holds strings"),
        ("country ==", "syntax error"),
    ],
)
def test_an_unsafe_or_broken_filter_is_refused_by_the_models_evaluator(
    expression: str, problem: str
) -> None:
    with pytest.raises(ExpressionError, match=problem):
        build_plan(None, expression, [])


def test_a_custom_segment_file_assigns_with_the_models_rules(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(CUSTOM, encoding="utf-8")
    tables = tables_of(known_events(), segments=path)
    assert dict(zip(tables.orders["order_id"], tables.orders["segment"], strict=True)) == {
        "o1": "de_premium",
        "o2": "de_premium",
        "o3": "everyone",
    }
    assert tables.group_order["segment"] == ["de_premium", "everyone"]


def test_an_invalid_segment_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(CUSTOM.replace("default: true", "rule: \"open('x')\""), encoding="utf-8")
    with pytest.raises((SegmentConfigError, ExpressionError)):
        build_plan(path, None, [])


def test_names_are_checked_against_features_and_the_logs_attributes() -> None:
    events: list[InputEvent] = known_events()
    with pytest.raises(ExpressionError, match="unknown name"):
        tables_of(events, filter_text="contry == 'DE'")
    with pytest.raises(SegmentPlanError, match="age_band"):  # lists the log's attributes
        tables_of(events, segment_by=["agebands"])
    assert len(tables_of(events, filter_text="age_band == '25-34'").orders) == 2


def test_the_built_in_dimensions_cannot_be_named_again() -> None:
    with pytest.raises(SegmentPlanError, match="always in the report"):
        build_plan(None, None, ["segment"])


def test_only_rules_on_marketing_features_need_touches() -> None:
    assert "last_touch_campaign" in MARKETING_FEATURES
    assert "lifecycle_stage" not in MARKETING_FEATURES
    assert not build_plan(None, "country == 'DE'", ["loyalty_tier"]).needs_touches
    assert build_plan(None, "touch_clicks_email_count_7d > 0", []).needs_touches


@pytest.mark.parametrize(
    ("value", "label"),
    [(None, "(missing)"), (float("nan"), "(missing)"), (True, "true"), (3.0, "3"), (0.5, "0.5")],
)
def test_group_labels(value: object, label: str) -> None:
    assert group_label(value) == label


def test_customer_types_fold_the_lifecycle_stages() -> None:
    stages = {"new": "new", "active": "returning", "lapsed": "returning", "loyal": "loyal"}
    for stage, kind in stages.items():
        assert customer_type({"lifecycle_stage": stage}) == kind
    assert customer_type({}) == "(missing)"
