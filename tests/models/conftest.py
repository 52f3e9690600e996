"""Small data and trained versions, built once per session for `tests/models`.

`trained_version`: a tiny simulator log (1,500 customers over 200 days, ~2,500 labelled
orders) with the segment minimums lowered, so that some segments are compared with the global
model on held-out calibration rows and others fall back for size. On the simulator no
segment's own model beats the global one, so every segment of it may fall back.

`own_model_version`: a synthetic table (`tests.models.test_training.segment_table`) whose
segments differ by a profile attribute the models never see, so `odd` and `rest` keep models
of their own, plus a segment too small for one: every kind of segment in about 2 s.

The point is to exercise every path in seconds, not to measure accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from features.config import FeatureConfig
from features.replay import LabelRule, build_training_table, read_log, write_training_table
from models.dataset import TrainingData, training_data
from models.inference import ScoringModel
from models.pipeline import TrainingRun, train_version
from models.registry import Registry
from models.segments import default_segments_text
from models.training import TrainingConfig
from returnrisk.simulator.config import load_config
from returnrisk.simulator.runner import run_simulation

SMALL_CONFIG = TrainingConfig(
    min_segment_rows=300, min_segment_positives=40, min_segment_calibration_rows=60
)


@dataclass(frozen=True)
class SmallData:
    log: Path
    table_path: Path
    table: pa.Table
    data: TrainingData


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> SmallData:
    folder = tmp_path_factory.mktemp("models-data")
    log = folder / "events.jsonl"
    run_simulation(load_config(), customers=1500, days=200, seed=3, start=date(2025, 1, 1), out=log)
    events, invalid = read_log(log)
    assert not invalid
    table = build_training_table(events, FeatureConfig(), LabelRule())
    table_path = folder / "training.parquet"
    write_training_table(table, table_path)
    return SmallData(log, table_path, table, training_data(table))


@dataclass(frozen=True)
class TrainedVersion:
    registry: Registry
    run: TrainingRun
    model: ScoringModel


@pytest.fixture(scope="session")
def trained_version(
    small_data: SmallData, tmp_path_factory: pytest.TempPathFactory
) -> TrainedVersion:
    registry = Registry(tmp_path_factory.mktemp("models-registry"))
    run = train_version(registry, small_data.data, default_segments_text(), "default", SMALL_CONFIG)
    return TrainedVersion(registry, run, ScoringModel.load(run.path))


@dataclass(frozen=True)
class OwnModelVersion(TrainedVersion):
    data: TrainingData
    """What it was trained on: every row, every feature column."""


OWN_MODEL_SEGMENTS_TEXT = """
version: 1
bands: {medium: 0.45, high: 0.7}
segments:
  - name: odd
    rule: "cohort == 'odd'"
  - name: few
    rule: "cohort == 'few'"
  - name: rest
    default: true
"""


@pytest.fixture(scope="session")
def own_model_version(tmp_path_factory: pytest.TempPathFactory) -> OwnModelVersion:
    """`odd` (its label follows a feature the others ignore) and `rest` beat the global model
    on their held-out rows and keep their own models; `few` (one order in 50 of the rest
    cohort) is too small for one and falls back."""
    from tests.models.test_training import FAST, segment_table  # imports this module

    data = segment_table("different")
    data = replace(
        data,
        attributes=[
            {"cohort": "few"} if a["cohort"] == "rest" and i % 50 == 0 else a
            for i, a in enumerate(data.attributes)
        ],
    )
    registry = Registry(tmp_path_factory.mktemp("own-model-registry"))
    run = train_version(registry, data, OWN_MODEL_SEGMENTS_TEXT, "test", FAST)
    own = {name for name, m in run.metrics["segments"].items() if not m["fallback"]}
    assert own == {"odd", "rest"}, run.metrics["segments"]
    return OwnModelVersion(registry, run, ScoringModel.load(run.path), data)
