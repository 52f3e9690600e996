"""Which segment, filter and groups an order falls in, decided the way the models decide it.

Segment rules (`--segments FILE`, default `models/segments.yaml`) and `--filter EXPR` are
compiled by `models.segments` / `models.expressions` and evaluated on the row
`models.segments.segment_row` builds from the order's point-in-time features and the
customer's profile attributes. So "de_premium" or `lifecycle_stage == 'new'` means the same
orders here as in training and in the stream, and an unsafe expression is refused by the very
same whitelist.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from features.registry import FEATURE_NAMES
from features.state import CustomerState
from features.vector import marketing_features
from models.expressions import CompiledExpression, compile_expression
from models.segments import FEATURE_KINDS, Segments, load_segments_text

logger = logging.getLogger(__name__)

CUSTOMER_TYPES: dict[str, str] = {
    "new": "new",
    "active": "returning",
    "lapsed": "returning",
    "loyal": "loyal",
}
"""The features' lifecycle_stage, folded into the three customer types compared side by side."""
CUSTOMER_TYPE_ORDER: tuple[str, ...] = ("new", "returning", "loyal")

MARKETING_FEATURES: frozenset[str] = frozenset(marketing_features(CustomerState(), 0))
"""Features read from campaign touches; only rules naming one need touches in the replay."""

SEGMENT = "segment"
CUSTOMER_TYPE = "customer_type"
RESERVED_DIMENSIONS = frozenset({SEGMENT, CUSTOMER_TYPE})
MISSING = "(missing)"


class SegmentPlanError(ValueError):
    """The segments, filter or grouping cannot be used; the message names the option."""


@dataclass(frozen=True)
class SegmentPlan:
    """The compiled segment rules, the optional filter and the extra grouping attributes."""

    segments: Segments
    segments_text: str
    segments_source: str
    filter: CompiledExpression | None
    segment_by: tuple[str, ...]

    @property
    def referenced_names(self) -> frozenset[str]:
        names = set(self.segments.referenced_names) | set(self.segment_by)
        if self.filter is not None:
            names |= self.filter.names
        return frozenset(names)

    @property
    def needs_touches(self) -> bool:
        """Whether any rule, the filter or a grouping reads a marketing feature."""
        return bool(self.referenced_names & MARKETING_FEATURES)

    def checked(self, attribute_names: Iterable[str]) -> SegmentPlan:
        """The plan with every name checked against the features and the log's attributes,
        so a typo fails loudly instead of silently matching nothing."""
        known = frozenset(FEATURE_NAMES) | frozenset(attribute_names)
        segments = Segments.from_yaml_text(
            self.segments_text, self.segments_source, known_names=known
        )
        expression = None
        if self.filter is not None:
            expression = _compile_filter(self.filter.source, known)
        unknown = [name for name in self.segment_by if name not in known]
        if unknown:
            attributes = ", ".join(sorted(set(attribute_names))) or "none"
            raise SegmentPlanError(
                f"--segment-by: unknown name(s) {', '.join(unknown)}; use a feature name "
                f"(e.g. country, loyalty_tier, lifecycle_stage) or a profile attribute of "
                f"this log ({attributes})"
            )
        return SegmentPlan(
            segments, self.segments_text, self.segments_source, expression, self.segment_by
        )


def _compile_filter(text: str, known: frozenset[str] | None = None) -> CompiledExpression:
    return compile_expression(text, "--filter", known_names=known, name_types=FEATURE_KINDS)


def build_plan(
    segments_path: Path | None, filter_text: str | None, segment_by: Iterable[str]
) -> SegmentPlan:
    """Compile everything that can be checked before the log is read (syntax and safety).

    Raises `SegmentConfigError` or `ExpressionError` (both `ValueError`) or `SegmentPlanError`.
    """
    text, source = load_segments_text(segments_path)
    segments = Segments.from_yaml_text(text, source)
    expression = _compile_filter(filter_text) if filter_text is not None else None
    names = tuple(dict.fromkeys(segment_by))
    reserved = sorted(set(names) & RESERVED_DIMENSIONS)
    if reserved:
        raise SegmentPlanError(
            f"--segment-by {', '.join(reserved)}: always in the report; name an attribute"
        )
    return SegmentPlan(segments, text, source, expression, names)


def group_label(value: object) -> str:
    """A feature or attribute value as the name of a group in the tables."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def customer_type(row: Mapping[str, object]) -> str:
    stage = row.get("lifecycle_stage")
    return CUSTOMER_TYPES.get(stage, MISSING) if isinstance(stage, str) else MISSING
