"""The scoring library: load a model version and score a batch of rows in one call.

This is what the streaming worker imports, so it needs only numpy and LightGBM (no pandas,
scikit-learn or matplotlib). A batch is scored with one LightGBM call per distinct model
(segments that fell back share the global one): rows are assigned to segments by the
version's own rules, encoded once, and each model predicts its rows together. A single row
is a batch of one.

    model = ScoringModel.load(Registry(root).path("promoted"))
    model.check_feature_set(feature_set_hash(config))       # once, at start-up
    scores = model.score_many(feature_rows, attribute_rows)  # per micro-batch

`assess_many` gives each row's segment, calibrated probability and band without reasons, from
one plain prediction per model: the reasons' SHAP contributions (`explain.tree_shap`) cost
ten to twenty plain predictions per row, so a shadow version, measured by band only, is
assessed, not scored.

Scores are deterministic: the same rows give the same probabilities, bands and reasons.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from explain.reasons import Getter, reasons_for, top_reasons
from explain.tree_shap import TreeExplainer, UnexplainableModel
from models.calibration import Calibrator
from models.encoding import FeatureEncoder, FloatMatrix, Value
from models.feature_set import FeatureSetMismatch, check_feature_set
from models.registry import CALIBRATORS, FEATURES, MANIFEST, SEGMENTS, sha256_file
from models.segments import BandThresholds, Segments, segment_row
from schemas.outputs import Reason, RiskBand

logger = logging.getLogger(__name__)

REASONS_PER_SCORE = 3
FeatureRow = Mapping[str, Value]
AttributeRow = Mapping[str, object]


class ModelLoadError(ValueError):
    """A version directory that cannot be scored with; the message names the file."""


@dataclass(frozen=True, slots=True)
class Score:
    """One row's score, as `schemas.outputs.RiskScore` carries it."""

    segment: str
    probability: float
    band: RiskBand
    reasons: tuple[Reason, ...]
    raw: float
    """Uncalibrated log-odds, for diagnostics."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """Rows' segments, uncalibrated and calibrated scores and bands: a score without reasons."""

    segments: list[str]
    raw: npt.NDArray[np.float64]
    probability: npt.NDArray[np.float64]
    bands: list[RiskBand]


def risk_bands(probability: npt.NDArray[np.float64], bands: BandThresholds) -> list[RiskBand]:
    return [
        RiskBand.HIGH if p >= bands.high else RiskBand.MEDIUM if p >= bands.medium else RiskBand.LOW
        for p in probability.tolist()
    ]


class ScoringModel:
    """A loaded version: its encoder, segment rules, boosters and calibrators."""

    def __init__(
        self,
        version: str,
        manifest: Mapping[str, Any],
        encoder: FeatureEncoder,
        segments: Segments,
        boosters: Mapping[str, lgb.Booster],
        calibrators: Mapping[str, Calibrator],
        predict_threads: int = 0,
    ) -> None:
        """`predict_threads`: LightGBM's threads per plain prediction (`raw_scores`); 0 is its
        default (every core). Scores with reasons come from `TreeExplainer`, on one thread."""
        self.version = version
        self.predict_threads = predict_threads
        self.manifest = manifest
        self.encoder = encoder
        self.segments = segments
        self.feature_set_hash: str = manifest["feature_set_hash"]
        self._boosters = boosters
        self._explainers = {name: TreeExplainer(booster) for name, booster in boosters.items()}
        self._model_of = {name: info["model"] for name, info in manifest["segments"].items()}
        self._calibrators = calibrators

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.encoder.feature_names

    def categories(self) -> frozenset[str]:
        """The product categories the model was trained on (`order_top_category`'s
        vocabulary): those a policy's economics may name."""
        return frozenset(self.encoder.vocabularies.get("order_top_category", ()))

    @classmethod
    def load(cls, path: Path, predict_threads: int = 0) -> ScoringModel:
        """Load a version directory, checking every file against the manifest's checksum."""
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{path}: not a model version ({MANIFEST}: {exc})") from None
        for name, expected in manifest["files"].items():
            if sha256_file(path / name) != expected:
                raise ModelLoadError(f"{path / name}: checksum differs from the manifest's")
        encoder = FeatureEncoder.from_json(json.loads((path / FEATURES).read_text()))
        segments = Segments.from_yaml_text((path / SEGMENTS).read_text(), str(path / SEGMENTS))
        if set(segments.names) != set(manifest["segments"]):
            raise ModelLoadError(f"{path}: {SEGMENTS} and {MANIFEST} list different segments")
        model_files = sorted({info["model"] for info in manifest["segments"].values()})
        boosters = {name: lgb.Booster(model_file=str(path / name)) for name in model_files}
        calibrators = {
            name: Calibrator.from_json(data)
            for name, data in json.loads((path / CALIBRATORS).read_text()).items()
        }
        try:
            model = cls(
                manifest["version"],
                manifest,
                encoder,
                segments,
                boosters,
                calibrators,
                predict_threads,
            )
        except UnexplainableModel as exc:
            raise ModelLoadError(f"{path}: cannot explain its scores: {exc}") from None
        logger.info("loaded model version %s (%d models)", manifest["version"], len(boosters))
        return model

    def check_feature_set(self, found: str | None, what: str = "the feature rows") -> None:
        """Refuse rows built with another feature set (raises `FeatureSetMismatch`)."""
        check_feature_set(found, self.feature_set_hash, what)

    # the row API (what the worker calls) -------------------------------------------------

    def assign_segments(
        self, rows: Sequence[FeatureRow], attributes: Sequence[AttributeRow] | None = None
    ) -> list[str]:
        if attributes is not None and len(attributes) != len(rows):
            raise ValueError(f"{len(rows)} feature rows but {len(attributes)} attribute rows")
        merged = [
            segment_row(row, attributes[i] if attributes is not None else None)
            for i, row in enumerate(rows)
        ]
        return self.segments.assign(merged)

    def assess_many(
        self, rows: Sequence[FeatureRow], attributes: Sequence[AttributeRow] | None = None
    ) -> Assessment:
        """Segment, probability and band of each row: its score without the reasons."""
        segments = self.assign_segments(rows, attributes)
        return self._assess(self.raw_scores(self.encoder.encode_rows(rows), segments), segments)

    def score_many(
        self, rows: Sequence[FeatureRow], attributes: Sequence[AttributeRow] | None = None
    ) -> list[Score]:
        """Probability, band and reasons for each row."""
        segments = self.assign_segments(rows, attributes)
        matrix = self.encoder.encode_rows(rows)
        return self.score_matrix(matrix, segments, lambda i: rows[i].get)

    # the matrix API (offline scoring and evaluation) -------------------------------------

    def _groups(self, segments: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
        """Row indices per model file, so each booster predicts its rows in one call."""
        unknown = set(segments) - self._model_of.keys()
        if unknown:
            raise ValueError(f"segment(s) {sorted(unknown)} are not in version {self.version}")
        model_per_row = np.array([self._model_of[s] for s in segments], dtype=object)
        return {m: np.flatnonzero(model_per_row == m) for m in sorted(set(model_per_row.tolist()))}

    def raw_scores(self, matrix: FloatMatrix, segments: Sequence[str]) -> npt.NDArray[np.float64]:
        raw = np.zeros(len(segments))
        for model, rows in self._groups(segments).items():
            raw[rows] = self._boosters[model].predict(
                matrix[rows], raw_score=True, num_threads=self.predict_threads
            )
        return raw

    def calibrate(
        self, raw: npt.NDArray[np.float64], segments: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        probability = np.zeros(len(segments))
        names = np.array(segments, dtype=object)
        for segment in sorted(set(segments)):
            rows = np.flatnonzero(names == segment)
            probability[rows] = self._calibrators[segment].apply(raw[rows])
        return probability

    def contributions(self, matrix: FloatMatrix, segments: Sequence[str]) -> FloatMatrix:
        """Per-feature SHAP log-odds contributions, then the bias (`pred_contrib`'s layout)."""
        result = np.zeros((len(segments), matrix.shape[1] + 1))
        for model, rows in self._groups(segments).items():
            result[rows] = self._explainers[model].contributions(matrix[rows])
        return result

    def _assess(self, raw: npt.NDArray[np.float64], segments: Sequence[str]) -> Assessment:
        probability = self.calibrate(raw, segments)
        names = np.array(segments, dtype=object)
        bands: list[RiskBand] = [RiskBand.LOW] * len(segments)
        for segment in sorted(set(segments)):
            rows = np.flatnonzero(names == segment)
            for row, band in zip(
                rows, risk_bands(probability[rows], self.segments.bands(segment)), strict=True
            ):
                bands[row] = band
        return Assessment(list(segments), raw, probability, bands)

    def score_matrix(
        self, matrix: FloatMatrix, segments: Sequence[str], row_getter: Callable[[int], Getter]
    ) -> list[Score]:
        """Score encoded rows; `row_getter(i)` reads row i's raw values for reason texts."""
        contributions = self.contributions(matrix, segments)
        assessed = self._assess(contributions.sum(axis=1), segments)
        top = top_reasons(contributions, self.feature_names, REASONS_PER_SCORE)
        return [
            Score(
                segment=segments[i],
                probability=float(assessed.probability[i]),
                band=assessed.bands[i],
                reasons=tuple(
                    reasons_for(top[i], contributions[i], self.feature_names, row_getter(i))
                ),
                raw=float(assessed.raw[i]),
            )
            for i in range(len(segments))
        ]


__all__ = [
    "Assessment",
    "FeatureSetMismatch",
    "ModelLoadError",
    "Score",
    "ScoringModel",
    "risk_bands",
]
