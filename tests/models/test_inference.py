"""The scoring library: one call per batch, deterministic, every score explained."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from features.registry import feature_set_hash
from models.dataset import feature_columns
from models.feature_set import FeatureSetMismatch
from models.inference import ModelLoadError, ScoringModel
from schemas.outputs import RiskBand
from tests.fixtures.trained_versions import SmallData, TrainedVersion


def feature_rows(small: SmallData, count: int = 300) -> tuple[list[dict], list[dict]]:
    columns, attributes = feature_columns(small.table.slice(small.table.num_rows - count))
    rows = [
        {
            name: (v.item() if hasattr(v, "item") else v)
            for name, v in zip(columns, values, strict=True)
        }
        for values in zip(*columns.values(), strict=True)
    ]
    return rows, attributes


def test_scores_have_probability_band_and_three_readable_reasons(
    trained_version: TrainedVersion, small_data: SmallData
) -> None:
    rows, attributes = feature_rows(small_data)
    scores = trained_version.model.score_many(rows, attributes)
    assert len(scores) == len(rows)
    assert {s.segment for s in scores} <= set(trained_version.model.segments.names)
    for score in scores:
        assert 0 < score.probability < 1
        assert isinstance(score.band, RiskBand)
        assert len(score.reasons) == 3
        for reason in score.reasons:
            assert reason.code in trained_version.model.feature_names and reason.text
            assert math.isfinite(reason.contribution)
    assessment = trained_version.model.assess_many(rows, attributes)  # the same, without reasons
    np.testing.assert_allclose(assessment.probability, [s.probability for s in scores], rtol=1e-12)
    assert assessment.segments == [s.segment for s in scores]
    assert assessment.bands == [s.band for s in scores]


def test_one_thread_scores_exactly_as_every_core_does(
    trained_version: TrainedVersion, small_data: SmallData
) -> None:
    """The worker scores with one LightGBM thread (its pipeline keeps to one core)."""
    rows, attributes = feature_rows(small_data, 120)
    single = ScoringModel.load(trained_version.run.path, predict_threads=1)
    assert single.predict_threads == 1
    assert single.score_many(rows, attributes) == trained_version.model.score_many(rows, attributes)


def test_scoring_is_deterministic_and_a_row_scores_the_same_alone(
    trained_version: TrainedVersion, small_data: SmallData
) -> None:
    rows, attributes = feature_rows(small_data, 120)
    model = trained_version.model
    first = model.score_many(rows, attributes)
    again = ScoringModel.load(trained_version.run.path).score_many(rows, attributes)
    assert first == again
    alone = [
        model.score_many([row], [attrs])[0]
        for row, attrs in zip(rows[:20], attributes, strict=False)
    ]
    assert [s.reasons for s in alone] == [s.reasons for s in first[:20]]
    np.testing.assert_allclose([s.probability for s in alone], [s.probability for s in first[:20]])


def test_bands_follow_the_segment_thresholds(
    trained_version: TrainedVersion, small_data: SmallData
) -> None:
    rows, attributes = feature_rows(small_data)
    model = trained_version.model
    for score in model.score_many(rows, attributes):
        bands = model.segments.bands(score.segment)
        expected = (
            RiskBand.HIGH if score.probability >= bands.high
            else RiskBand.MEDIUM if score.probability >= bands.medium
            else RiskBand.LOW
        )  # fmt: skip
        assert score.band is expected


def test_contributions_add_up_to_the_raw_score(
    trained_version: TrainedVersion, small_data: SmallData
) -> None:
    rows, attributes = feature_rows(small_data, 50)
    model = trained_version.model
    segments = model.assign_segments(rows, attributes)
    matrix = model.encoder.encode_rows(rows)
    contributions = model.contributions(matrix, segments)
    np.testing.assert_allclose(
        contributions.sum(axis=1), model.raw_scores(matrix, segments), atol=1e-9
    )


def test_a_model_refuses_rows_of_another_feature_set(trained_version: TrainedVersion) -> None:
    model = trained_version.model
    model.check_feature_set(feature_set_hash())
    with pytest.raises(FeatureSetMismatch, match="the model expects"):
        model.check_feature_set("0000000000000000")


def test_a_tampered_version_is_refused(trained_version: TrainedVersion, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained_version.run.path, copy)
    calibrators = copy / "calibrators.json"
    calibrators.chmod(0o644)
    data = json.loads(calibrators.read_text())
    data["global"]["b"] = 3.0
    calibrators.write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="checksum differs"):
        ScoringModel.load(copy)


def test_scoring_needs_neither_pandas_nor_sklearn_nor_matplotlib(
    trained_version: TrainedVersion, small_data: SmallData, tmp_path: Path
) -> None:
    """The worker's path: with those packages made unimportable, load and score a batch.
    (LightGBM imports pandas and scikit-learn only when present, for its own wrappers.)"""
    rows, attributes = feature_rows(small_data, 20)
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"rows": rows, "attributes": attributes}))
    script = (
        "import json, sys\n"
        "for name in ('pandas', 'sklearn', 'matplotlib'):\n"
        "    sys.modules[name] = None\n"
        "from pathlib import Path\n"
        "from models.inference import ScoringModel\n"
        f"batch = json.loads(Path({str(batch)!r}).read_text())\n"
        f"model = ScoringModel.load(Path({str(trained_version.run.path)!r}))\n"
        "scores = model.score_many(batch['rows'], batch['attributes'])\n"
        "print(json.dumps([s.probability for s in scores]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    expected = [s.probability for s in trained_version.model.score_many(rows, attributes)]
    assert json.loads(result.stdout) == pytest.approx(expected, rel=1e-12)
