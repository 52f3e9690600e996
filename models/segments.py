"""Customer segments: ordered declarative rules, the first match wins, a default closes the list.

The same `Segments.assign` is used when training (over the rows of a training table), when
scoring (over a micro-batch of feature rows) and by the segment analytics report, so a
customer lands in the same segment everywhere. A row is the order's features with the
customer's profile attributes behind them (`segment_row`): rules can use both.

>>> segments = Segments.from_yaml_text('''
... version: 1
... segments:
...   - {name: de_premium, rule: "country == 'DE' and loyalty_tier in ['gold', 'vip']"}
...   - {name: everyone, default: true}
... ''')
>>> segments.assign([{"country": "DE", "loyalty_tier": "vip"}, {"country": "FR"}])
['de_premium', 'everyone']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.registry import FEATURES
from models.expressions import CompiledExpression, ValueKind, compile_expression

logger = logging.getLogger(__name__)

SEGMENT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
FEATURE_KINDS: dict[str, ValueKind] = {
    spec.name: "string" if spec.type == "categorical" else "number" for spec in FEATURES
}


class SegmentConfigError(ValueError):
    """The segment file is not valid; the message names the file and the problem."""


class BandThresholds(BaseModel):
    """Calibrated probability at which an order becomes medium, and high, risk."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    medium: float = Field(default=0.45, gt=0, lt=1)
    high: float = Field(default=0.7, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> BandThresholds:
        if self.medium > self.high:
            raise ValueError(f"bands: medium ({self.medium}) must not exceed high ({self.high})")
        return self


class SegmentRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=SEGMENT_NAME_PATTERN)
    description: str = ""
    rule: str | None = None
    default: bool = False
    bands: BandThresholds | None = None

    @model_validator(mode="after")
    def _rule_or_default(self) -> SegmentRule:
        if self.default and self.rule is not None:
            raise ValueError(f"segment {self.name!r}: the default segment takes no rule")
        if not self.default and not (self.rule or "").strip():
            raise ValueError(f"segment {self.name!r}: needs a rule (or `default: true`)")
        return self


class SegmentConfig(BaseModel):
    """The YAML file as data; stored verbatim in every model version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    bands: BandThresholds = BandThresholds()
    segments: list[SegmentRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_default_last(self) -> SegmentConfig:
        names = [s.name for s in self.segments]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate segment name(s): {', '.join(duplicates)}")
        defaults = [s.name for s in self.segments if s.default]
        if len(defaults) != 1 or not self.segments[-1].default:
            raise ValueError(
                "exactly one segment must be the default (`default: true`) and it must come "
                f"last; found default(s) {defaults or 'none'} with {names[-1]!r} last"
            )
        return self


@dataclass(frozen=True, slots=True)
class CompiledSegment:
    name: str
    expression: CompiledExpression | None
    bands: BandThresholds


def segment_row(
    features: Mapping[str, object], attributes: Mapping[str, object] | None
) -> dict[str, object]:
    """What a rule sees for one order: its features, and custom profile attributes under any
    name no feature uses (a feature wins a name clash, so an attribute cannot fake one)."""
    return {**attributes, **features} if attributes else dict(features)


class Segments:
    """Compiled rules: build once (per model version), assign many batches."""

    def __init__(self, config: SegmentConfig, known_names: frozenset[str] | None = None) -> None:
        self.config = config
        compiled = []
        for segment in config.segments:
            expression = None
            if segment.rule is not None:
                expression = compile_expression(
                    segment.rule, segment.name, known_names=known_names, name_types=FEATURE_KINDS
                )
            compiled.append(
                CompiledSegment(segment.name, expression, segment.bands or config.bands)
            )
        self._rules = [c for c in compiled if c.expression is not None]
        self._default = compiled[-1]
        self._by_name = {c.name: c for c in compiled}

    @classmethod
    def from_yaml_text(
        cls, text: str, source: str = "<text>", known_names: frozenset[str] | None = None
    ) -> Segments:
        return cls(parse_config(text, source), known_names)

    @property
    def names(self) -> tuple[str, ...]:
        """Segment names in rule order, the default last."""
        return tuple(self._by_name)

    @property
    def referenced_names(self) -> frozenset[str]:
        """Every feature or attribute name some rule reads."""
        return frozenset().union(*(r.expression.names for r in self._rules if r.expression))

    @property
    def default(self) -> str:
        return self._default.name

    def bands(self, segment: str) -> BandThresholds:
        return self._by_name[segment].bands

    def assign(self, rows: Sequence[Mapping[str, object]]) -> list[str]:
        """The segment of each row: the first rule that is true for it, else the default.

        Each rule runs only over the rows no earlier rule claimed, so a batch costs at most
        one evaluation per row and rule.
        """
        result = [self._default.name] * len(rows)
        pending = list(range(len(rows)))
        for segment in self._rules:
            if not pending:
                break
            expression = segment.expression
            if expression is None:  # pragma: no cover - _rules holds only rules with one
                continue
            unclaimed = []
            for index in pending:
                if expression.matches(rows[index]):
                    result[index] = segment.name
                else:
                    unclaimed.append(index)
            pending = unclaimed
        return result


def parse_config(text: str, source: str = "<text>") -> SegmentConfig:
    """Validate a segment YAML document, with errors that name the file and the field."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SegmentConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SegmentConfigError(f"{source}: expected a mapping with a 'segments' list")
    try:
        config = SegmentConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise SegmentConfigError(f"{source}: {problems}") from None
    return config


def default_segments_text() -> str:
    """The packaged default rules (`models/segments.yaml`)."""
    return resources.files("models").joinpath("segments.yaml").read_text(encoding="utf-8")


def load_segments_text(path: Path | None) -> tuple[str, str]:
    """The YAML text to use and where it came from: `path`, or the packaged default."""
    if path is None:
        return default_segments_text(), "models/segments.yaml (default)"
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise SegmentConfigError(f"{path}: cannot read the segment file: {exc}") from None
