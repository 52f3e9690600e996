"""Small simulated data and one trained version, built once per session for `tests/models`.

The log is tiny (1,500 customers over 200 days, ~2,500 labelled orders) and the segment
minimums are lowered so that some segments get their own model and others fall back: the
point is to exercise every path in seconds, not to measure accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
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
