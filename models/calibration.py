"""Probability calibration: fitted offline on held-out rows, applied online with numpy alone.

Portals put thresholds on the probability, so "0.4" must mean about 40 % of such orders come
back. A boosted model's raw scores rarely mean that (early stopping and per-segment data
sizes shift them), so every segment gets a monotone map from raw log-odds to probability,
fitted on calibration rows the model never trained on.

Three maps are compared by expected calibration error under K-fold cross-validation
*within the calibration rows* (the validation rows stay untouched), and the lowest wins:

- identity, the raw `sigmoid(log-odds)`: a LightGBM model trained on log loss and early-
  stopped on the same period is often calibrated already, and then any fitted map only adds
  estimation noise; keeping it when it is best is what makes calibration never hurt;
- Platt scaling, `sigmoid(a * raw + b)`: two numbers, robust on few rows, but it can only
  stretch and shift the log-odds;
- isotonic regression: any monotone shape, but needs many rows and can overfit small ones.

Either is stored as plain numbers (breakpoints for `np.interp`, or `a` and `b`), so the
scoring path needs neither scikit-learn nor pickles.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Method = Literal["isotonic", "platt", "identity"]
PROBABILITY_FLOOR = 1e-4
ECE_BINS = 10


@dataclass(frozen=True, slots=True)
class Calibrator:
    """A monotone map from raw log-odds to a calibrated probability."""

    method: Method
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 1.0
    b: float = 0.0

    def apply(self, raw: FloatArray) -> FloatArray:
        if self.method == "isotonic":
            probability = np.interp(raw, np.asarray(self.x), np.asarray(self.y))
        else:
            a, b = (self.a, self.b) if self.method == "platt" else (1.0, 0.0)
            probability = 1.0 / (1.0 + np.exp(-(a * raw + b)))
        clipped: FloatArray = np.clip(probability, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
        return clipped

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "a": self.a,
            "b": self.b,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibrator:
        return cls(
            data["method"],
            tuple(float(v) for v in data["x"]),
            tuple(float(v) for v in data["y"]),
            float(data["a"]),
            float(data["b"]),
        )


def expected_calibration_error(
    probability: FloatArray, label: npt.NDArray[Any], bins: int = ECE_BINS
) -> float:
    """Row-weighted mean |observed rate - mean predicted| over equal-width probability bins."""
    if len(probability) == 0:
        return float("nan")
    index = np.minimum((probability * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    predicted = np.bincount(index, weights=probability, minlength=bins)
    observed = np.bincount(index, weights=label.astype(np.float64), minlength=bins)
    filled = counts > 0
    gaps = np.abs(observed[filled] - predicted[filled])
    return float(gaps.sum() / len(probability))


def fit_platt(raw: FloatArray, label: npt.NDArray[Any], iterations: int = 100) -> Calibrator:
    """Logistic regression of the label on the raw log-odds, by Newton's method.

    A tiny ridge keeps it finite when the classes separate perfectly on few rows.
    """
    design = np.column_stack([raw, np.ones_like(raw)])
    target = label.astype(np.float64)
    weights = np.array([1.0, 0.0])
    ridge = 1e-6 * np.eye(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (p - target) + ridge @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        weights = weights - step
        if np.max(np.abs(step)) < 1e-10:
            break
    return Calibrator("platt", a=float(weights[0]), b=float(weights[1]))


def fit_isotonic(raw: FloatArray, label: npt.NDArray[Any]) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(raw, label.astype(np.float64))
    return Calibrator(
        "isotonic",
        x=tuple(float(v) for v in model.X_thresholds_),
        y=tuple(float(v) for v in model.y_thresholds_),
    )


FITTERS = {"isotonic": fit_isotonic, "platt": fit_platt}


@dataclass(frozen=True, slots=True)
class CalibrationChoice:
    calibrator: Calibrator
    cv_ece: dict[str, float]
    """Cross-validated ECE of each candidate."""


def choose_calibrator(
    raw: FloatArray, label: npt.NDArray[Any], folds: int = 5, seed: int = 0
) -> CalibrationChoice:
    """Fit each map on `folds` - 1 folds, score ECE on the held-out fold, keep the method with
    the lowest mean ECE (the simpler one on a tie) and refit it on all rows."""
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(len(raw)) % folds
    errors: dict[str, list[float]] = {"identity": [], **{method: [] for method in FITTERS}}
    for fold in range(folds):
        held = fold_of == fold
        candidates = {"identity": Calibrator("identity")}
        candidates.update({m: fit(raw[~held], label[~held]) for m, fit in FITTERS.items()})
        for method, calibrator in candidates.items():
            ece = expected_calibration_error(calibrator.apply(raw[held]), label[held])
            errors[method].append(ece)
    cv_ece = {method: float(np.mean(values)) for method, values in errors.items()}
    best = min(("identity", "platt", "isotonic"), key=lambda m: cv_ece[m])
    logger.debug("calibration cv ece %s -> %s", cv_ece, best)
    chosen = Calibrator("identity") if best == "identity" else FITTERS[best](raw, label)
    return CalibrationChoice(chosen, cv_ece)
