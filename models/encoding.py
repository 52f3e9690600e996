"""Feature rows to the float matrix LightGBM reads, identically in training and in scoring.

LightGBM handles categorical features natively but wants them as non-negative integer codes.
The code of a category is its position in a vocabulary learnt from the training rows and
stored with the model version; at scoring time a category the model never saw, like a
missing one, becomes NaN (LightGBM's "missing"). Training and scoring both go through
`FeatureEncoder.encode_columns`, so the codes cannot drift apart (pandas' own category codes
depend on which values a frame happens to hold, which is why they are not used).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float64]
Value = float | str | None


class EncodingError(ValueError):
    """A row does not fit the model's feature list; the message names the row and feature."""


@dataclass(frozen=True, slots=True)
class FeatureEncoder:
    """The ordered feature list and, for each categorical feature, its vocabulary."""

    feature_names: tuple[str, ...]
    vocabularies: Mapping[str, tuple[str, ...]]
    _lookup: dict[str, dict[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup = {
            name: {v: i for i, v in enumerate(vocab)} for name, vocab in self.vocabularies.items()
        }
        object.__setattr__(self, "_lookup", lookup)

    @classmethod
    def fit(
        cls,
        feature_names: Sequence[str],
        categorical: frozenset[str],
        columns: Mapping[str, Sequence[Value]],
    ) -> FeatureEncoder:
        """Learn each categorical feature's vocabulary (sorted, so it is reproducible)."""
        vocabularies = {
            name: tuple(sorted({v for v in columns[name] if isinstance(v, str)}))
            for name in feature_names
            if name in categorical
        }
        return cls(tuple(feature_names), vocabularies)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.feature_names) if name in self.vocabularies]

    def encode_rows(self, rows: Sequence[Mapping[str, Value]]) -> FloatMatrix:
        """Rows as `features.vector.feature_values` returns them, to a matrix."""
        columns: dict[str, list[Value]] = {}
        for name in self.feature_names:
            try:
                columns[name] = [row[name] for row in rows]
            except KeyError:
                missing = next(i for i, row in enumerate(rows) if name not in row)
                raise EncodingError(
                    f"row {missing} has no value for feature {name!r} (the model needs all of "
                    f"its {len(self.feature_names)} features; missing values are None or NaN)"
                ) from None
        return self.encode_columns(columns)

    def encode_columns(
        self, columns: Mapping[str, Sequence[Value] | npt.NDArray[Any]]
    ) -> FloatMatrix:
        """Columns by feature name (numbers, or strings for categorical features) to a matrix."""
        size = len(columns[self.feature_names[0]]) if self.feature_names else 0
        matrix = np.empty((size, len(self.feature_names)), dtype=np.float64)
        for index, name in enumerate(self.feature_names):
            values = columns[name]
            if name in self._lookup:
                codes = self._lookup[name]
                matrix[:, index] = [
                    codes.get(v, math.nan) if isinstance(v, str) else math.nan for v in values
                ]
                continue
            try:
                matrix[:, index] = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                bad = next((v for v in values if not _is_number_or_missing(v)), None)
                raise EncodingError(
                    f"feature {name!r} is numeric but got {bad!r}; use NaN or None for missing"
                ) from None
        return matrix

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names),
            "vocabularies": {name: list(vocab) for name, vocab in self.vocabularies.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        return cls(
            tuple(data["feature_names"]),
            {name: tuple(vocab) for name, vocab in data["vocabularies"].items()},
        )


def _is_number_or_missing(value: object) -> bool:
    return value is None or isinstance(value, int | float)
