"""A training run writes a complete, immutable, evaluated version."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from models.registry import Registry
from returnrisk.cli import app
from tests.models.conftest import SmallData, TrainedVersion

FILES = {
    "manifest.json", "features.json", "calibrators.json", "segments.yaml", "metrics.json",
    "report.html", "models/global.txt",
}  # fmt: skip


def test_the_version_directory_is_complete(trained_version: TrainedVersion) -> None:
    path = trained_version.run.path
    files = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}
    assert FILES <= files
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("feature_names", "feature_set_hash", "training_window", "data", "libraries"):
        assert manifest[key]
    assert set(manifest["training_window"]) == {
        "train_from", "calibration_from", "validation_from", "validation_to",
    }  # fmt: skip
    assert {"lightgbm", "numpy", "python"} <= set(manifest["libraries"])
    assert trained_version.registry.verify(path.name) == []
    report = (path / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 4 and "<script" not in report


def test_metrics_have_the_keys_the_issue_names(trained_version: TrainedVersion) -> None:
    metrics = json.loads((trained_version.run.path / "metrics.json").read_text())
    assert {"auc", "pr_auc", "brier", "ece", "logloss"} <= set(metrics["overall"])
    assert isinstance(metrics["baselines"]["segment_rate"]["auc"], float)
    assert isinstance(metrics["baselines"]["customer_rate"]["auc"], float)
    for segment in trained_version.model.segments.names:
        assert {"n", "positives", "auc", "fallback"} <= set(metrics["segments"][segment])
    assert sum(s["n"] for s in metrics["segments"].values()) == metrics["overall"]["n"]


def test_train_cli_ends_with_the_auc_line(small_data: SmallData, tmp_path) -> None:  # type: ignore[no-untyped-def]
    registry = tmp_path / "registry"
    result = CliRunner().invoke(
        app, ["train", "--dataset", str(small_data.table_path), "--registry", str(registry)]
    )
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"AUC model=0\.\d{3} baseline_segment=0\.\d{3} baseline_customer=0\.\d{3}", last
    )
    assert len(Registry(registry).list_versions()) == 1


def test_train_cli_refuses_both_or_neither_source(small_data: SmallData, tmp_path) -> None:  # type: ignore[no-untyped-def]
    neither = CliRunner().invoke(app, ["train", "--registry", str(tmp_path)])
    both = CliRunner().invoke(
        app,
        ["train", "--registry", str(tmp_path), "--events", str(small_data.log),
         "--dataset", str(small_data.table_path)],
    )  # fmt: skip
    for result in (neither, both):
        assert result.exit_code == 2
        assert "exactly one of --events" in result.output
