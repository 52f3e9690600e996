"""Segment rules: first match wins, the default closes the list, bad files are refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.registry import FEATURE_NAMES
from models.expressions import ExpressionError
from models.segments import (
    BandThresholds,
    SegmentConfigError,
    Segments,
    default_segments_text,
    segment_row,
)

CUSTOM = """
version: 1
bands: {medium: 0.3, high: 0.6}
segments:
  - name: de_premium
    rule: "country == 'DE' and loyalty_tier in ['gold', 'vip']"
    bands: {medium: 0.4, high: 0.7}
  - name: young
    rule: "age_band == '25-34'"
  - name: rest
    default: true
"""


def default_row(**values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "is_staff": 0.0,
        "loyalty_tier": "silver",
        "returned_items_rate_365d": 0.2,
        "return_requests_count_365d": 0.0,
        "lifecycle_stage": "active",
    }
    row.update(values)
    return row


def test_default_rules_in_order_first_match_wins() -> None:
    segments = Segments.from_yaml_text(
        default_segments_text(), known_names=frozenset(FEATURE_NAMES)
    )
    assert segments.names == ("staff", "vip", "serial_returner", "new", "loyal", "lapsed", "active")
    serial = {"returned_items_rate_365d": 0.6, "return_requests_count_365d": 4.0}
    rows = [
        default_row(is_staff=1.0, loyalty_tier="vip"),  # staff before vip
        default_row(loyalty_tier="vip", **serial),  # vip before serial_returner
        default_row(lifecycle_stage="new", **serial),  # serial_returner before new
        default_row(lifecycle_stage="new"),
        default_row(lifecycle_stage="loyal"),
        default_row(lifecycle_stage="lapsed"),
        default_row(),
        default_row(lifecycle_stage=None, is_staff=math.nan, loyalty_tier=None),  # all unknown
    ]
    assert segments.assign(rows) == [
        "staff", "vip", "serial_returner", "new", "loyal", "lapsed", "active", "active",
    ]  # fmt: skip


def test_custom_segments_on_features_and_profile_attributes() -> None:
    segments = Segments.from_yaml_text(CUSTOM)
    rows = [
        segment_row({"country": "DE", "loyalty_tier": "gold"}, {"age_band": "25-34"}),
        segment_row({"country": "FR", "loyalty_tier": "gold"}, {"age_band": "25-34"}),
        segment_row({"country": "FR", "loyalty_tier": None}, {}),
    ]
    assert segments.assign(rows) == ["de_premium", "young", "rest"]
    assert segments.bands("de_premium") == BandThresholds(medium=0.4, high=0.7)
    assert segments.bands("young") == BandThresholds(medium=0.3, high=0.6)
    assert segments.referenced_names == {"country", "loyalty_tier", "age_band"}


def test_an_attribute_cannot_override_a_feature() -> None:
    row = segment_row({"loyalty_tier": "silver"}, {"loyalty_tier": "vip", "age_band": "55+"})
    assert row == {"loyalty_tier": "silver", "age_band": "55+"}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "country": st.sampled_from(["DE", "FR", None]),
                "loyalty_tier": st.sampled_from(["gold", "vip", "none", None]),
                "age_band": st.sampled_from(["25-34", "55+", None]),
            }
        ),
        max_size=30,
    )
)
def test_batch_assignment_equals_row_by_row_first_match(rows: list[dict[str, object]]) -> None:
    segments = Segments.from_yaml_text(CUSTOM)
    one_by_one = [segments.assign([row])[0] for row in rows]
    assert segments.assign(rows) == one_by_one
    for row, name in zip(rows, one_by_one, strict=True):
        de_premium = row["country"] == "DE" and row["loyalty_tier"] in ("gold", "vip")
        expected = "de_premium" if de_premium else "young" if row["age_band"] == "25-34" else "rest"
        assert name == expected


BAD_FILES = [
    ("segments: [{name: a, rule: 'x == 1'}]", "exactly one segment must be the default"),
    (
        "segments: [{name: d, default: true}, {name: a, rule: 'x == 1'}]",
        "exactly one segment must be the default (`default: true`) and it must come last",
    ),
    ("segments: [{name: a, rule: 'x == 1'}, {name: a, default: true}]", "duplicate segment"),
    ("segments: [{name: a, rule: 'x == 1', default: true}]", "the default segment takes no rule"),
    ("segments: [{name: a}, {name: d, default: true}]", "segment 'a': needs a rule"),
    ("segments: [{name: Bad-Name, default: true}]", "segments.0.name"),
    ("segments: [{name: d, default: true, colour: red}]", "segments.0.colour"),
    ("bands: {medium: 0.7, high: 0.5}\nsegments: [{name: d, default: true}]", "must not exceed"),
    ("just text", "expected a mapping"),
    ("segments: [unclosed", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_FILES)
def test_invalid_files_are_refused_with_the_file_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(SegmentConfigError) as error:
        Segments.from_yaml_text(text, source="custom.yaml")
    assert str(error.value).startswith("custom.yaml: ")
    assert problem in str(error.value)


def test_an_unsafe_or_mistyped_rule_is_refused_naming_the_segment() -> None:
    unsafe = "segments: [{name: evil, rule: \"__import__('os')\"}, {name: d, default: true}]"
    with pytest.raises(ExpressionError, match="segment rule 'evil': function calls"):
        Segments.from_yaml_text(unsafe)
    mistyped = "segments: [{name: t, rule: 'loyalty_tier == 3'}, {name: d, default: true}]"
    with pytest.raises(ExpressionError, match="'loyalty_tier' holds strings"):
        Segments.from_yaml_text(mistyped)
    typo = "segments: [{name: t, rule: \"contry == 'DE'\"}, {name: d, default: true}]"
    with pytest.raises(ExpressionError, match="unknown name\\(s\\) contry"):
        Segments.from_yaml_text(typo, known_names=frozenset(FEATURE_NAMES))
