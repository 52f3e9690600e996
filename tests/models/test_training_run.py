"""A training run writes a complete, immutable, evaluated version."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.baselines import PRIOR_WEIGHT_ORDERS, customer_rate
from models.evaluation import score_metrics
from models.registry import Registry
from models.training_run import train_version
from returnrisk.cli import app
from returnrisk.models_cli import _print_summary
from tests.fixtures.trained_versions import SmallData, TrainedVersion
from tests.models.test_training import FAST, HELD_OUT_REASON, SEGMENTS_TEXT, segment_table

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
        "train_from", "calibration_from", "holdout_from", "validation_from", "validation_to",
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


def test_train_cli_prints_data_health_and_ends_with_the_auc_line(
    small_data: SmallData, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    registry = tmp_path / "registry"
    result = CliRunner().invoke(
        app, ["train", "--dataset", str(small_data.table_path), "--registry", str(registry)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("label rate by month: 2025-01 ") for line in lines)
    assert any(line.startswith("most missing features: ") for line in lines)
    assert "customers with over 1,000 orders: 0" in lines
    assert any(  # the small log's segments each have under 500 validation orders
        line.startswith("warning: segment ") and "validation orders (< 500)" in line
        for line in lines
    )
    header = next(line for line in lines if line.startswith("segment "))
    assert header.split()[-2:] == ["global", "ECE"]
    last = lines[-1]
    assert re.fullmatch(
        r"AUC model=0\.\d{3} baseline_segment=0\.\d{3} baseline_customer=0\.\d{3} "
        r"global_model=0\.\d{3}",
        last,
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


def test_the_global_model_is_a_baseline_overall_and_per_segment(
    trained_version: TrainedVersion,
) -> None:
    metrics = json.loads((trained_version.run.path / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"segment_rate", "customer_rate", "global_model"}
    global_auc = metrics["baselines"]["global_model"]["auc"]
    assert isinstance(global_auc, float)
    assert metrics["beats_global_model"] == (metrics["overall"]["auc"] > global_auc)
    for name, segment in metrics["segments"].items():
        baseline = segment["baselines"]["global_model"]
        if segment["fallback"]:  # scored by the global model itself: the same figures
            assert segment["beats_global_model"] is None
            assert baseline["auc"] == segment["auc"] and baseline["ece"] == segment["ece"], name
        else:
            assert segment["beats_global_model"] == (
                segment["auc"] is not None and segment["auc"] > baseline["auc"]
            )
    report = (trained_version.run.path / "report.html").read_text()
    assert "AUC global model" in report and "<b>one global model</b>" in report
    assert f"(global model\n{global_auc:.3f})" in report


def test_the_customer_rate_baseline_is_the_point_in_time_order_rate(
    trained_version: TrainedVersion, small_data: SmallData
) -> None:
    data = small_data.data
    metrics = trained_version.run.metrics
    prior = metrics["customer_rate_prior"]
    assert prior["weight_orders"] == PRIOR_WEIGHT_ORDERS
    validation_from = int(datetime.fromisoformat(metrics["validation"]["from"]).timestamp())
    train_rows = data.occurred_at < int(
        datetime.fromisoformat(
            json.loads((trained_version.run.path / "manifest.json").read_text())["training_window"][
                "calibration_from"
            ]
        ).timestamp()
    )
    assert prior["rate"] == round(float(data.label[train_rows].mean()), 6)
    rate = customer_rate(
        data.customer_id, data.occurred_at, data.label, data.label_closes_at, prior["rate"]
    )
    rows = data.occurred_at >= validation_from
    expected = score_metrics(rate[rows], data.label[rows])["auc"]
    assert metrics["baselines"]["customer_rate"]["auc"] == pytest.approx(expected, abs=1e-5)
    assert "label window had closed" in metrics["baseline_definitions"]["customer_rate"]


def test_a_held_out_fallback_is_in_the_metrics_the_report_and_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A segment whose own model only fits noise is scored by the global model, and every
    place that names a fallback says why, with both held-out AUCs."""
    run = train_version(Registry(tmp_path), segment_table("noise"), SEGMENTS_TEXT, "test", FAST)
    odd = run.metrics["segments"]["odd"]
    reason = odd["fallback_reason"]
    assert odd["fallback"] and odd["model_file"] == "models/global.txt"
    assert HELD_OUT_REASON.match(reason), reason
    held = odd["held_out"]
    assert {"rows", "positives", "auc_own", "auc_global", "z"} <= set(held)
    assert f"(AUC {held['auc_own']:.3f} vs {held['auc_global']:.3f}" in reason
    assert odd["beats_global_model"] is None
    assert odd["auc"] == odd["baselines"]["global_model"]["auc"]
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["segments"]["odd"]["held_out"] == held
    assert manifest["training_config"]["min_gain_z"] == FAST.min_gain_z
    report = (run.path / "report.html").read_text()
    assert "yes: " + html.escape(reason) in report
    _print_summary(run.metrics)
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("odd "))
    assert f"global ({reason})" in line
