"""`make demo` shows the per-segment choice: its history is large enough that at least three
segments are compared with the global model on held-out rows, and both the training summary
and the live table say which segments have a model of their own and why the others do not."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from features.config import FeatureConfig
from features.replay import LabelRule, build_training_table, read_log
from models.dataset import feature_columns, training_data
from models.inference import ScoringModel
from models.registry import Registry
from models.segments import default_segments_text
from models.training import TrainingConfig
from models.training_run import train_version
from returnrisk.demo import PromotedModels, _scores_table
from returnrisk.models_cli import _print_summary
from simulator.config import load_config
from simulator.runner import run_simulation
from tests.fixtures.trained_versions import OwnModelVersion

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def demo_history_settings() -> tuple[int, int, int]:
    """(customers, days, seed) of the history `make demo` trains on, read from the Makefile."""
    text = MAKEFILE.read_text()
    customers = re.search(r"^DEMO_TRAIN_CUSTOMERS \?= (\d+)$", text, re.M)
    days = re.search(r"^DEMO_TRAIN_DAYS \?= (\d+)$", text, re.M)
    seed = re.search(r"simulate --customers \$\(DEMO_TRAIN_CUSTOMERS\).* --seed (\d+)", text)
    assert customers and days and seed, "the demo's training settings moved in the Makefile"
    return int(customers[1]), int(days[1]), int(seed[1])


def test_the_demo_history_puts_three_segments_to_the_held_out_comparison(tmp_path: Path) -> None:
    """The demo's own history and what `make demo` runs: `returnrisk train` with its defaults,
    then promote (about 30 s: 10,000 customers over a year). Whether a segment then keeps its
    own model is the comparison's call, not assumed here; the demo shows it for three or more
    segments, and the promoted version scores orders."""
    customers, days, seed = demo_history_settings()
    log = tmp_path / "history.jsonl"
    run_simulation(
        load_config(), customers=customers, days=days, seed=seed, start=date(2025, 1, 1), out=log
    )
    events, _ = read_log(log)
    table = build_training_table(events, FeatureConfig(), LabelRule())
    registry = Registry(tmp_path / "registry")
    run = train_version(
        registry, training_data(table), default_segments_text(), "segments.yaml", TrainingConfig()
    )
    registry.promote(run.version)
    models = PromotedModels.read(registry.root)
    segments = run.metrics["segments"]
    judged = [name for name, m in segments.items() if m["held_out"] is not None]
    assert len(judged) >= 3, models.fallbacks
    for name, m in segments.items():
        reason = models.fallbacks[name]
        if not m["fallback"]:
            assert reason is None and name in judged and m["model_file"] == f"models/{name}.txt"
        elif name in judged:  # the comparison's figures, as the live table shows them
            held = m["held_out"]
            assert reason == m["fallback_reason"]
            assert f"on {held['rows']} held-out calibration rows" in reason, reason
            assert f"(AUC {held['auc_own']:.3f} vs {held['auc_global']:.3f}" in reason, reason
        else:
            assert reason and reason == m["fallback_reason"]  # too small to fit one
    columns, attributes = feature_columns(table.slice(table.num_rows - 200))
    rows = [
        {
            name: v.item() if hasattr(v, "item") else v
            for name, v in zip(columns, values, strict=True)
        }
        for values in zip(*columns.values(), strict=True)
    ]  # plain values, as the worker's feature rows hold them
    scores = ScoringModel.load(registry.path("promoted")).score_many(rows, attributes)
    assert {score.segment for score in scores} <= segments.keys()
    assert all(0 < score.probability < 1 and score.reasons for score in scores)


def test_the_training_summary_says_which_segments_have_their_own_model(
    own_model_version: OwnModelVersion, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = own_model_version.run.metrics
    _print_summary(metrics)
    printed = capsys.readouterr().out
    own = [name for name, m in metrics["segments"].items() if not m["fallback"]]
    assert own and len(own) < len(metrics["segments"])  # both kinds, so both are shown
    for name, m in metrics["segments"].items():
        line = next(line for line in printed.splitlines() if line.startswith(f"{name} "))
        expected = f"global ({m['fallback_reason']})" if m["fallback"] else "own, "
        assert expected in line
    count = f"{len(own)} of {len(metrics['segments'])} segments have a model of their own"
    assert count in printed


def test_the_live_table_says_which_segments_have_their_own_model(
    own_model_version: OwnModelVersion, tmp_path: Path
) -> None:
    version = own_model_version.run.path
    registry = Registry(tmp_path / "registry")
    shutil.copytree(version, registry.versions_dir / version.name)
    registry.promote(version.name)
    models = PromotedModels.read(registry.root)
    metrics = own_model_version.run.metrics
    assert models.version == version.name
    assert models.fallbacks == {
        name: m["fallback_reason"] if m["fallback"] else None
        for name, m in metrics["segments"].items()
    }
    assert {None} < set(models.fallbacks.values())  # both kinds, so both are shown
    scored = {"returnrisk_scores_total": {(("band", "low"), ("segment", "odd")): 3.0}}
    console = Console(record=True, width=200)
    console.print(_scores_table(scored, models))
    cells = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in console.export_text().splitlines()
        if line.startswith("│")
    ]
    rows = {row[0]: row[1:] for row in cells}  # model, low, medium, high, why global
    assert rows.keys() == models.fallbacks.keys()
    for name, reason in models.fallbacks.items():
        assert rows[name][0] == ("own" if reason is None else "global")
        assert rows[name][4] == (reason or "")
    assert rows["odd"][1:4] == ["3", "0", "0"]
