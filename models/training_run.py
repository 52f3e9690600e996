"""One training run, end to end: fit, write a version, evaluate it as loaded, publish it.

The metrics are computed by scoring the validation rows through `ScoringModel` loaded from
the staged version directory, i.e. through the very files and code a worker will use, so a
mistake in saving or loading shows up in the numbers rather than in production.
"""

from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from features.registry import CATEGORICAL, FEATURE_NAMES
from models import baselines
from models.data_health import data_health
from models.dataset import TrainingData
from models.evaluation import BASELINES, ValidationScores, evaluate, segment_rates
from models.inference import ScoringModel
from models.registry import (
    CALIBRATORS,
    FEATURES,
    MANIFEST,
    METRICS,
    REPORT,
    SEGMENTS,
    Registry,
    new_version_id,
    sha256_file,
    write_json,
)
from models.segments import Segments
from models.training import (
    GLOBAL,
    FittedModels,
    SegmentFit,
    StepHook,
    TrainingConfig,
    feature_importance,
    fit_models,
)

logger = logging.getLogger(__name__)

LIBRARIES = ("lightgbm", "numpy", "pyarrow", "scikit-learn", "pydantic", "returnrisk")


@dataclass(frozen=True)
class TrainingRun:
    version: str
    path: Path
    metrics: dict[str, Any]


def _iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="seconds")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _slice(data: TrainingData, rows: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "rows": len(rows),
        "positives": int(data.label[rows].sum()),
        "from": _iso(int(data.occurred_at[rows[0]])),
        "to": _iso(int(data.occurred_at[rows[-1]])),
    }


def data_statistics(data: TrainingData, fitted: FittedModels) -> dict[str, Any]:
    """What the models were fitted on: slices, segment sizes, feature coverage (training rows)."""
    split = fitted.split
    segments = np.array(fitted.assigned, dtype=object)
    per_segment = {}
    for name in dict.fromkeys(fitted.assigned):
        counts = {
            part: int((segments[rows] == name).sum())
            for part, rows in (
                ("train", split.train),
                ("calibration", split.calibration),
                ("validation", split.validation),
            )
        }
        per_segment[name] = counts
    train = fitted.matrix[split.train]
    features = {}
    for index, name in enumerate(FEATURE_NAMES):
        column = train[:, index]
        missing = float(np.isnan(column).mean())
        entry: dict[str, Any] = {"missing_share": round(missing, 6)}
        if name in CATEGORICAL:
            entry["categories"] = len(fitted.encoder.vocabularies[name])
        elif missing < 1:
            entry["mean"] = round(float(np.nanmean(column)), 6)
        features[name] = entry
    return {
        "labelled_rows": len(data),
        "dropped_incomplete_labels": data.dropped_incomplete,
        "label_rate": round(float(data.label.mean()), 6),
        "slices": {
            "train": _slice(data, split.train),
            "calibration": _slice(data, split.calibration),
            "validation": _slice(data, split.validation),
        },
        "segments": per_segment,
        "features": features,
    }


def _write_artefacts(
    staged: Path,
    version: str,
    created_at: datetime,
    data: TrainingData,
    fitted: FittedModels,
    segments_text: str,
    config: TrainingConfig,
) -> None:
    (staged / "models").mkdir()
    for name, booster in fitted.boosters.items():
        booster.save_model(str(staged / name))
    write_json(
        staged / FEATURES,
        {
            **fitted.encoder.to_json(),
            "feature_set_hash": data.feature_set_hash,
            "feature_config": json.loads(data.feature_config or "{}"),
        },
    )
    fits = [fitted.global_fit, *fitted.segments]
    write_json(staged / CALIBRATORS, {fit.name: fit.calibrator.to_json() for fit in fits})
    (staged / SEGMENTS).write_text(segments_text, encoding="utf-8")
    files = [*fitted.boosters, FEATURES, CALIBRATORS, SEGMENTS]
    write_json(
        staged / MANIFEST,
        {
            "format": 1,
            "version": version,
            "created_at": created_at.isoformat(timespec="seconds"),
            "feature_set_hash": data.feature_set_hash,
            "feature_names": list(FEATURE_NAMES),
            "label_window_days": data.label_window_days,
            "training_window": {
                "train_from": _iso(int(data.occurred_at[fitted.split.train[0]])),
                "calibration_from": _iso(fitted.split.calibration_from),
                "holdout_from": _iso(fitted.holdout_from),
                "validation_from": _iso(fitted.split.validation_from),
                "validation_to": _iso(int(data.occurred_at[fitted.split.validation[-1]])),
            },
            "global": _fit_entry(fitted.global_fit),
            "segments": {fit.name: _fit_entry(fit) for fit in fitted.segments},
            "data": data_statistics(data, fitted),
            "training_config": config.model_dump(),
            "libraries": library_versions(),
            "files": {name: sha256_file(staged / name) for name in sorted(files)},
        },
    )


def _beats(entry: dict[str, Any], *names: str) -> bool:
    """The group's model AUC is above each named baseline's (False where any is undefined)."""
    auc = entry["auc"]
    return auc is not None and all(
        entry["baselines"][b]["auc"] is not None and auc > entry["baselines"][b]["auc"]
        for b in names
    )


def _fit_entry(fit: SegmentFit) -> dict[str, Any]:
    return {
        "model": fit.model_file,
        "fallback": fit.fallback,
        "fallback_reason": fit.fallback_reason,
        "train_rows": fit.train_rows,
        "train_positives": fit.train_positives,
        "calibration_rows": fit.calibration_rows,
        "calibration_positives": fit.calibration_positives,
        "trees": fit.rounds,
        "calibration": fit.calibrator.method,
        "calibration_cv_ece": {k: round(v, 6) for k, v in fit.calibration_cv_ece.items()},
        "held_out": fit.held_out.to_json() if fit.held_out else None,
    }


def _validation_scores(
    model: ScoringModel, data: TrainingData, fitted: FittedModels
) -> ValidationScores:
    split = fitted.split
    rows = split.validation
    segments = [fitted.assigned[i] for i in rows]
    stored_rules = model.segments.assign(data.segment_rows(model.segments.referenced_names, rows))
    if stored_rules != segments:
        raise RuntimeError("the stored segment rules assign validation rows differently")
    matrix = fitted.matrix[rows]
    probability = model.calibrate(model.raw_scores(matrix, segments), segments)
    train_segments = [fitted.assigned[i] for i in split.train]
    rates = segment_rates(train_segments, data.label[split.train], model.segments.names)
    customer = baselines.customer_rate(
        data.customer_id, data.occurred_at, data.label, data.label_closes_at, _prior(data, fitted)
    )
    global_booster = fitted.boosters[fitted.global_fit.model_file]
    global_raw = np.asarray(global_booster.predict(matrix, raw_score=True), dtype=np.float64)
    return ValidationScores(
        label=data.label[rows],
        segments=segments,
        model=probability,
        segment_rate=np.array([rates[s] for s in segments]),
        customer_rate=customer[rows],
        global_model=fitted.global_fit.calibrator.apply(global_raw),
    )


def _prior(data: TrainingData, fitted: FittedModels) -> float:
    """The customer-rate baseline's prior: the training rows' return rate."""
    return float(data.label[fitted.split.train].mean())


def train_version(
    registry: Registry,
    data: TrainingData,
    segments_text: str,
    segments_source: str,
    config: TrainingConfig,
    on_step: StepHook = lambda step: None,
) -> TrainingRun:
    """Fit the models, write and evaluate a new version, publish it; returns its metrics."""
    attribute_names = {key for attributes in data.attributes for key in attributes}
    known = frozenset(FEATURE_NAMES) | frozenset(attribute_names)
    segments = Segments.from_yaml_text(segments_text, segments_source, known_names=known)
    fitted = fit_models(data, segments, config, on_step)
    created_at = datetime.now(UTC)
    version = new_version_id(created_at)
    with registry.staging() as staged:
        _write_artefacts(staged, version, created_at, data, fitted, segments_text, config)
        on_step("evaluating on the validation rows")
        model = ScoringModel.load(staged)
        scores = _validation_scores(model, data, fitted)
        metrics = build_metrics(version, data, fitted, scores, model)
        write_json(staged / METRICS, metrics)
        on_step("writing report.html")
        from reporting.training_report import render_report

        report = render_report(
            metrics, scores.label, {name: scores.scorer(name) for name in ("model", *BASELINES)}
        )
        (staged / REPORT).write_text(report, encoding="utf-8")
        path = registry.publish(staged, version)
    return TrainingRun(version, path, metrics)


def build_metrics(
    version: str,
    data: TrainingData,
    fitted: FittedModels,
    scores: ValidationScores,
    model: ScoringModel,
) -> dict[str, Any]:
    """`metrics.json`: evaluation plus what a reader needs to interpret it."""
    result = evaluate(scores, model.segments.names)
    for fit in fitted.segments:
        entry = result["segments"][fit.name]
        entry.update(
            {
                "fallback": fit.fallback,
                "fallback_reason": fit.fallback_reason,
                "model_file": fit.model_file,
                "calibration": fit.calibrator.method,
                "train_rows": fit.train_rows,
                "held_out": fit.held_out.to_json() if fit.held_out else None,
            }
        )
        entry["beats_baselines"] = _beats(entry, "segment_rate", "customer_rate")
        # a fallback segment is scored by the global model itself: nothing to beat
        entry["beats_global_model"] = None if fit.fallback else _beats(entry, "global_model")
    validation = fitted.split.validation
    importance = {GLOBAL: feature_importance(fitted.boosters[fitted.global_fit.model_file])}
    for fit in fitted.segments:
        if not fit.fallback:
            importance[fit.name] = feature_importance(fitted.boosters[fit.model_file])
    return {
        "version": version,
        "validation": {
            "rows": len(validation),
            "from": _iso(int(data.occurred_at[validation[0]])),
            "to": _iso(int(data.occurred_at[validation[-1]])),
        },
        **result,
        "beats_global_model": _beats(
            {**result["overall"], "baselines": result["baselines"]}, "global_model"
        ),
        "baseline_definitions": {
            "segment_rate": "return rate of the row's segment among training orders",
            "customer_rate": baselines.definition(_prior(data, fitted)),
            "global_model": (
                "one LightGBM on every training row (no segments, same features), early-stopped "
                "and calibrated on every calibration row; fallback segments are scored by it"
            ),
        },
        "customer_rate_prior": {
            "rate": round(_prior(data, fitted), 6),
            "weight_orders": baselines.PRIOR_WEIGHT_ORDERS,
        },
        "data_health": data_health(
            data.columns,
            data.label,
            data.occurred_at,
            data.customer_id,
            fitted.assigned,
            validation,
            model.segments.names,
        ),
        "feature_importance": {
            name: [[feature, gain] for feature, gain in gains] for name, gains in importance.items()
        },
    }
