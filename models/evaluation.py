"""Metrics of a version on its validation rows, beside three baselines on the same rows.

A model is only worth running if it beats what a returns team can do without it, and a
per-segment model only if it beats one model for everyone, so every metric is reported for
four scorers on the same (newest, never fitted on) rows:

- `model`: the version as deployed, each row through its segment's model and calibrator;
- `segment_rate`: the return rate of the row's segment among the *training* rows;
- `customer_rate`: the customer's smoothed share of past orders with a return request,
  counting only orders whose label was final at the row's time (`models.baselines`);
- `global_model`: one LightGBM on every training row, no segments, same features, early
  stopping and calibration on every calibration row (the model fallback segments use, so on
  a fallback segment it equals `model`).

Metrics: ROC-AUC, PR-AUC (average precision), log loss, Brier score, expected calibration
error (10 equal-width bins), precision and lift in the top 10 % of scores, and the points of a
reliability curve. Within one segment the segment-rate baseline is a constant: its AUC there
is 0.5 by definition.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from models.calibration import ECE_BINS, PROBABILITY_FLOOR, expected_calibration_error

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
TOP_SHARE = 0.10
SCORERS = ("model", "segment_rate", "customer_rate", "global_model")
BASELINES = SCORERS[1:]


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def precision_at_top(score: FloatArray, label: npt.NDArray[Any], share: float = TOP_SHARE) -> float:
    """Share of positives among the top `share` of rows by score.

    Rows tied at the cut count in proportion (the expected precision of a random tie-break),
    so a constant score gets exactly the base rate and the result never depends on row order.
    """
    n = len(score)
    if n == 0:
        return math.nan
    k = max(1, math.ceil(n * share))
    threshold = np.sort(score)[::-1][k - 1]
    above = score > threshold
    tied = score == threshold
    taken_from_ties = k - int(above.sum())
    positives = float(label[above].sum()) + taken_from_ties * float(label[tied].mean())
    return positives / k


def reliability_curve(
    probability: FloatArray, label: npt.NDArray[Any], bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """Per equal-width bin: mean predicted probability, observed rate and row count."""
    index = np.minimum((probability * bins).astype(np.int64), bins - 1)
    points = []
    for b in range(bins):
        rows = index == b
        if rows.any():
            points.append(
                {
                    "predicted": round(float(probability[rows].mean()), 6),
                    "observed": round(float(label[rows].mean()), 6),
                    "count": int(rows.sum()),
                }
            )
    return points


def score_metrics(score: FloatArray, label: npt.NDArray[Any]) -> dict[str, Any]:
    """Every metric of one scorer on one group of rows (None where undefined)."""
    both_classes = 0 < int(label.sum()) < len(label)
    clipped = np.clip(score, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    base_rate = float(label.mean()) if len(label) else math.nan
    precision = precision_at_top(score, label)
    return {
        "auc": _rounded(float(roc_auc_score(label, score))) if both_classes else None,
        "pr_auc": _rounded(float(average_precision_score(label, score))) if both_classes else None,
        "logloss": _rounded(float(log_loss(label, clipped, labels=[0, 1]))) if len(label) else None,
        "brier": _rounded(float(brier_score_loss(label, score))) if len(label) else None,
        "ece": _rounded(expected_calibration_error(score, label)),
        "precision_top10": _rounded(precision),
        "lift_top10": _rounded(precision / base_rate) if base_rate else None,
        "reliability": reliability_curve(score, label),
    }


@dataclass(frozen=True)
class ValidationScores:
    """The validation rows and the four scorers' values for them."""

    label: npt.NDArray[np.int8]
    segments: list[str]
    model: FloatArray
    segment_rate: FloatArray
    customer_rate: FloatArray
    global_model: FloatArray

    def scorer(self, name: str) -> FloatArray:
        values: FloatArray = getattr(self, name)
        return values


def segment_rates(
    train_segments: list[str], train_label: npt.NDArray[Any], names: tuple[str, ...]
) -> dict[str, float]:
    """Each segment's return rate among training rows; the overall rate where it has none."""
    overall = float(train_label.mean())
    segments = np.array(train_segments, dtype=object)
    rates = {}
    for name in names:
        rows = segments == name
        rates[name] = float(train_label[rows].mean()) if rows.any() else overall
    return rates


def _group(scores: ValidationScores, rows: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The model's metrics for `rows`, with the baselines' under `baselines`."""
    label = scores.label[rows]
    return {
        "n": int(rows.sum()),
        "positives": int(label.sum()),
        **score_metrics(scores.model[rows], label),
        "baselines": {name: score_metrics(scores.scorer(name)[rows], label) for name in BASELINES},
    }


def evaluate(scores: ValidationScores, segment_names: tuple[str, ...]) -> dict[str, Any]:
    """`overall` (the model), `baselines` (overall) and `segments` (each with its baselines)."""
    overall = _group(scores, np.ones(len(scores.label), dtype=bool))
    segments = np.array(scores.segments, dtype=object)
    return {
        "overall": {k: v for k, v in overall.items() if k != "baselines"},
        "baselines": overall["baselines"],
        "segments": {name: _group(scores, segments == name) for name in segment_names},
    }
