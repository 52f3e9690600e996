"""`make demo` shows per-segment models: its history is large enough that at least three
segments train their own, and both the training summary and the live table say which did."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from features.config import FeatureConfig
from features.replay import LabelRule, build_training_table, read_log
from models.dataset import training_data
from models.registry import Registry
from models.segments import Segments, default_segments_text
from models.training import TrainingConfig, fit_models
from returnrisk.demo import PromotedModels, _scores_table
from returnrisk.models_cli import _print_summary
from returnrisk.simulator.config import load_config
from returnrisk.simulator.runner import run_simulation
from tests.models.conftest import TrainedVersion

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def demo_history_settings() -> tuple[int, int, int]:
    """(customers, days, seed) of the history `make demo` trains on, read from the Makefile."""
    text = MAKEFILE.read_text()
    customers = re.search(r"^DEMO_TRAIN_CUSTOMERS \?= (\d+)$", text, re.M)
    days = re.search(r"^DEMO_TRAIN_DAYS \?= (\d+)$", text, re.M)
    seed = re.search(r"simulate --customers \$\(DEMO_TRAIN_CUSTOMERS\).* --seed (\d+)", text)
    assert customers and days and seed, "the demo's training settings moved in the Makefile"
    return int(customers[1]), int(days[1]), int(seed[1])


def test_the_demo_history_gives_three_segments_a_model_of_their_own(tmp_path: Path) -> None:
    """The demo's own history and the rule `returnrisk train` applies by default (about 25 s:
    10,000 customers over a year)."""
    customers, days, seed = demo_history_settings()
    log = tmp_path / "history.jsonl"
    run_simulation(
        load_config(), customers=customers, days=days, seed=seed, start=date(2025, 1, 1), out=log
    )
    events, _ = read_log(log)
    data = training_data(build_training_table(events, FeatureConfig(), LabelRule()))
    segments = Segments.from_yaml_text(default_segments_text(), "segments.yaml")
    fitted = fit_models(data, segments, TrainingConfig())
    own = [fit.name for fit in fitted.segments if not fit.fallback]
    assert len(own) >= 3, [(fit.name, fit.fallback_reason) for fit in fitted.segments]


def test_the_training_summary_says_which_segments_have_their_own_model(
    trained_version: TrainedVersion, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = trained_version.run.metrics
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
    trained_version: TrainedVersion, tmp_path: Path
) -> None:
    version = trained_version.run.path
    registry = Registry(tmp_path / "registry")
    shutil.copytree(version, registry.versions_dir / version.name)
    registry.promote(version.name)
    models = PromotedModels.read(registry.root)
    metrics = trained_version.run.metrics
    assert models.version == version.name
    assert models.fallbacks == {
        name: m["fallback_reason"] if m["fallback"] else None
        for name, m in metrics["segments"].items()
    }
    scored = {"returnrisk_scores_total": {(("band", "low"), ("segment", "new")): 3.0}}
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
    assert rows["new"][1:4] == ["3", "0", "0"]
