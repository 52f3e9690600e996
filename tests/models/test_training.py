"""Per-segment models on top of a global one; small segments fall back, recorded as such."""

from __future__ import annotations

import numpy as np

from models.training import GLOBAL
from tests.models.conftest import SMALL_CONFIG, TrainedVersion


def test_segments_get_their_own_model_or_a_recorded_fallback(
    trained_version: TrainedVersion,
) -> None:
    manifest = trained_version.run.metrics, trained_version.model.manifest
    segments = manifest[1]["segments"]
    own = [name for name, s in segments.items() if not s["fallback"]]
    fallen = [name for name, s in segments.items() if s["fallback"]]
    assert own and fallen, "the small fixture must exercise both paths"
    for name in own:
        assert segments[name]["model"] == f"models/{name}.txt"
        assert segments[name]["train_rows"] >= SMALL_CONFIG.min_segment_rows
    for name in fallen:
        assert segments[name]["model"] == f"models/{GLOBAL}.txt"
        assert segments[name]["fallback_reason"]


def test_a_segment_model_continues_the_global_one(trained_version: TrainedVersion) -> None:
    model = trained_version.model
    segments = model.manifest["segments"]
    name = next(n for n, s in segments.items() if not s["fallback"])
    assert segments[name]["trees"] >= model.manifest["global"]["trees"]


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
