"""Per-segment models on top of a global one: a segment keeps its own model only where it beats
the global model on held-out calibration rows; otherwise it falls back, with the reason."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from features.config import FeatureConfig
from features.registry import CATEGORICAL, FEATURE_NAMES, feature_set_hash
from models.dataset import TrainingData
from models.segments import Segments
from models.training import GLOBAL, TrainingConfig, fit_models, paired_auc_test
from tests.fixtures.trained_versions import TrainedVersion

# Two segments told apart by a profile attribute the models never see as a feature, so the
# global model cannot learn where they differ; only a segment's own trees can.
SEGMENTS_TEXT = """
version: 1
bands: {medium: 0.45, high: 0.7}
segments:
  - name: odd
    rule: "cohort == 'odd'"
  - name: rest
    default: true
"""
FAST = TrainingConfig(learning_rate=0.1, early_stopping_rounds=30, max_rounds=400)
NUMERIC = [name for name in FEATURE_NAMES if name not in CATEGORICAL]
HELD_OUT_REASON = re.compile(
    r"own model (does not beat the global model|'s gain) on \d+ held-out calibration rows "
    r".*\(AUC 0\.\d{3} vs 0\.\d{3}"
)


def segment_table(odd: str, rows: int = 8000, seed: int = 0) -> TrainingData:
    """Orders 10 minutes apart; 40 % of them in segment `odd`. Everywhere else the return odds
    grow with the first feature. In `odd` they grow with the second feature instead
    (`odd="different"`), or the label is a coin flip that no feature explains (`"noise"`)."""
    rng = np.random.default_rng(seed)
    in_odd = rng.random(rows) < 0.4
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    columns: dict[str, object] = {
        name: [None] * rows if name in CATEGORICAL else np.full(rows, np.nan)
        for name in FEATURE_NAMES
    }
    columns[NUMERIC[0]], columns[NUMERIC[1]] = x1, x2
    logit = np.where(in_odd, 2.5 * x2 if odd == "different" else 0.0, 2.5 * x1) - 0.8
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    occurred_at = 1_735_689_600 + 600 * np.arange(rows, dtype=np.int64)
    return TrainingData(
        columns=columns,  # type: ignore[arg-type]
        label=label,
        occurred_at=occurred_at,
        order_id=[f"o{i}" for i in range(rows)],
        customer_id=[f"c{i % 1500}" for i in range(rows)],
        attributes=[{"cohort": "odd" if o else "rest"} for o in in_odd],
        feature_set_hash=feature_set_hash(FeatureConfig()),
        feature_config="{}",
        label_window_days=30,
        dropped_incomplete=0,
        label_closes_at=occurred_at + 30 * 86_400,
    )


def test_a_segment_whose_own_model_fits_noise_falls_back_with_the_held_out_figures() -> None:
    fitted = fit_models(segment_table("noise"), Segments.from_yaml_text(SEGMENTS_TEXT), FAST)
    odd = next(fit for fit in fitted.segments if fit.name == "odd")
    assert odd.fallback and odd.model_file == f"models/{GLOBAL}.txt"
    assert odd.fallback_reason and HELD_OUT_REASON.match(odd.fallback_reason), odd.fallback_reason
    assert odd.held_out is not None and odd.held_out.rows < odd.calibration_rows
    assert f"{odd.held_out.auc_own:.3f} vs {odd.held_out.auc_global:.3f}" in odd.fallback_reason
    assert odd.calibrator == fitted.global_fit.calibrator  # a fallback uses the global one
    assert "models/odd.txt" not in fitted.boosters  # not kept: no file for it


def test_a_segment_with_a_signal_of_its_own_keeps_its_model() -> None:
    data = segment_table("different")
    fitted = fit_models(data, Segments.from_yaml_text(SEGMENTS_TEXT), FAST)
    odd = next(fit for fit in fitted.segments if fit.name == "odd")
    assert not odd.fallback, odd.fallback_reason
    assert odd.model_file in fitted.boosters and odd.rounds > fitted.global_fit.rounds
    held = odd.held_out
    assert held is not None and held.auc_own > held.auc_global and held.z >= FAST.min_gain_z
    # judged on the newest calibration rows only, none of which stopped its boosting
    calibration = fitted.split.calibration
    newest = calibration[data.occurred_at[calibration] >= fitted.holdout_from]
    in_odd = np.array(fitted.assigned, dtype=object)[newest] == "odd"
    assert held.rows == int(in_odd.sum()) < odd.calibration_rows


def test_a_gain_within_noise_is_not_enough() -> None:
    strict = FAST.model_copy(update={"min_gain_z": math.inf})
    fitted = fit_models(segment_table("different"), Segments.from_yaml_text(SEGMENTS_TEXT), strict)
    odd = next(fit for fit in fitted.segments if fit.name == "odd")
    assert odd.fallback and odd.fallback_reason
    assert "is within noise" in odd.fallback_reason and "< inf" in odd.fallback_reason


def test_the_paired_auc_test_matches_sklearn_and_a_bootstrap() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    label = (rng.random(600) < 0.3).astype(np.int8)
    signal = rng.normal(size=600) + label
    better, worse = signal + 0.5 * rng.normal(size=600), signal + rng.normal(size=600)
    auc_better, auc_worse, z = paired_auc_test(better, worse, label)
    assert auc_better == pytest.approx(roc_auc_score(label, better))
    assert auc_worse == pytest.approx(roc_auc_score(label, worse))
    differences = []
    for _ in range(300):
        i = rng.integers(0, 600, 600)
        differences.append(roc_auc_score(label[i], better[i]) - roc_auc_score(label[i], worse[i]))
    assert z == pytest.approx((auc_better - auc_worse) / np.std(differences), rel=0.2)
    assert math.isnan(paired_auc_test(better, better, label)[2])  # no difference to test
    assert all(math.isnan(v) for v in paired_auc_test(better, worse, np.zeros(600, np.int8)))


def test_every_segment_has_its_own_model_or_a_recorded_fallback(
    trained_version: TrainedVersion,
) -> None:
    manifest = trained_version.model.manifest
    for name, segment in manifest["segments"].items():
        if segment["fallback"]:
            assert segment["model"] == f"models/{GLOBAL}.txt" and segment["fallback_reason"]
        else:
            assert segment["model"] == f"models/{name}.txt"
            assert segment["trees"] >= manifest["global"]["trees"]  # continues the global one
            assert segment["held_out"]["auc_own"] > segment["held_out"]["auc_global"]


def test_calibration_keeps_or_improves_ece_on_the_calibration_rows(
    trained_version: TrainedVersion,
) -> None:
    for entry in [
        trained_version.model.manifest["global"],
        *trained_version.model.manifest["segments"].values(),
    ]:
        cv = entry["calibration_cv_ece"]
        assert cv[entry["calibration"]] <= cv["identity"] + 1e-12
        assert np.isfinite(list(cv.values())).all()
