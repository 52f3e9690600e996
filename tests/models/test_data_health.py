"""Data health figures on a dataset small enough to check by hand, and in a real run."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

import numpy as np

from models.data_health import data_health, summary_lines
from models.dataset import Columns
from tests.fixtures.trained_versions import TrainedVersion


def _at(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def _hand_built() -> dict[str, object]:
    # 2,003 orders: 1,001 by "whale" (Jan), 1,000 by "big" (Feb), one each by "x" and "y"
    # (Mar 31 23:59:59 UTC and Apr 1 00:00:00 UTC: months are cut in UTC)
    n = 2003
    occurred = np.array(
        [_at("2025-01-10")] * 1001
        + [_at("2025-02-10")] * 1000
        + [_at("2025-03-31") + 86_399, _at("2025-04-01")],
        dtype=np.int64,
    )
    label = np.zeros(n, dtype=np.int8)
    label[:250] = 1  # Jan: 250 of 1,001
    label[1001:1501] = 1  # Feb: 500 of 1,000
    label[2001] = 1  # Mar: 1 of 1
    customers = ["whale"] * 1001 + ["big"] * 1000 + ["x", "y"]
    always = np.ones(n)
    half = np.where(np.arange(n) % 2 == 0, np.nan, 1.0)  # 1,002 of 2,003 missing
    categories: list[str | None] = ["web"] * (n - 3) + [None, None, None]
    columns: Columns = {"always": always, "half": half, "channel": categories}
    assigned = ["big_seg"] * 1500 + ["small_seg"] * 503
    validation = np.arange(1000, n, dtype=np.int64)  # big_seg 500, small_seg 503
    return {
        "columns": columns,
        "label": label,
        "occurred_at": occurred,
        "customer_id": customers,
        "assigned": assigned,
        "validation": validation,
        "segment_names": ("big_seg", "small_seg", "empty_seg"),
    }


def test_data_health_on_a_hand_built_dataset() -> None:
    health = data_health(**_hand_built())  # type: ignore[arg-type]
    assert health["orders"] == 2003
    assert health["label_rate_by_month"] == {
        "2025-01": {"orders": 1001, "label_rate": round(250 / 1001, 6)},
        "2025-02": {"orders": 1000, "label_rate": 0.5},
        "2025-03": {"orders": 1, "label_rate": 1.0},
        "2025-04": {"orders": 1, "label_rate": 0.0},
    }
    assert health["segments"] == {
        "big_seg": {"orders": 1500, "share": round(1500 / 2003, 6), "validation_orders": 500},
        "small_seg": {"orders": 503, "share": round(503 / 2003, 6), "validation_orders": 503},
        "empty_seg": {"orders": 0, "share": 0.0, "validation_orders": 0},
    }
    assert health["feature_missing"] == {
        "half": round(1002 / 2003, 6),
        "channel": round(3 / 2003, 6),
        "always": 0.0,
    }
    assert health["most_missing"][0] == ["half", round(1002 / 2003, 6)]
    assert health["customers_over_1000_orders"] == 1  # whale (1,001); big has exactly 1,000
    # 500 validation orders is enough; an empty segment is warned about too
    assert health["warnings"] == [
        "segment empty_seg has 0 validation orders (< 500): its validation metrics are too "
        "noisy to compare by"
    ]
    json.dumps(health)  # JSON-ready as it is


def test_a_segment_under_500_validation_orders_is_warned_about() -> None:
    built = _hand_built()
    built["validation"] = np.arange(1001, 2003, dtype=np.int64)  # big_seg 499, small_seg 503
    health = data_health(**built)  # type: ignore[arg-type]
    assert [w.split(" has ")[0] for w in health["warnings"]] == [
        "segment big_seg",
        "segment empty_seg",
    ]
    assert "segment big_seg has 499 validation orders (< 500)" in health["warnings"][0]
    lines = summary_lines(health)
    assert (
        lines[0]
        == "label rate by month: 2025-01 0.250, 2025-02 0.500, 2025-03 1.000, 2025-04 0.000"
    )
    assert "customers with over 1,000 orders: 1" in lines
    assert [line for line in lines if line.startswith("warning: ")] == [
        f"warning: {w}" for w in health["warnings"]
    ]


def test_a_training_run_reports_its_data_health(trained_version: TrainedVersion) -> None:
    metrics = json.loads((trained_version.run.path / "metrics.json").read_text())
    health = metrics["data_health"]
    assert health["orders"] == metrics["overall"]["n"] + sum(
        s["rows"] for name, s in _slices(trained_version).items() if name != "validation"
    )
    assert sum(e["orders"] for e in health["label_rate_by_month"].values()) == health["orders"]
    assert (
        sum(e["validation_orders"] for e in health["segments"].values())
        == (metrics["overall"]["n"])
    )
    for name, entry in health["segments"].items():
        assert entry["validation_orders"] == metrics["segments"][name]["n"]
    small = [n for n, e in health["segments"].items() if e["validation_orders"] < 500]
    assert small  # the small log's validation slice is ~400 orders
    report = (trained_version.run.path / "report.html").read_text()
    assert "Data health" in report
    for name in small:
        warning = next(w for w in health["warnings"] if w.startswith(f"segment {name} has"))
        assert html.escape(warning) in report
    most_missing = health["most_missing"][0][0]
    assert most_missing in report


def _slices(trained_version: TrainedVersion) -> dict[str, dict[str, int]]:
    manifest = json.loads((trained_version.run.path / "manifest.json").read_text())
    slices: dict[str, dict[str, int]] = manifest["data"]["slices"]
    return slices
