"""Reading a training table: its feature set is checked, open labels dropped, time split."""

from __future__ import annotations

import numpy as np
import pytest

from models.dataset import DatasetError, time_split, training_data
from models.feature_set import FeatureSetMismatch
from tests.fixtures.trained_versions import SmallData


def test_rows_with_open_label_windows_are_dropped_and_the_rest_sorted(
    small_data: SmallData,
) -> None:
    data = small_data.data
    complete = sum(small_data.table.column("label_complete").to_pylist())
    assert len(data) == complete and data.dropped_incomplete == small_data.table.num_rows - complete
    assert np.all(np.diff(data.occurred_at) >= 0)
    assert data.occurred_at[0] > 1_700_000_000  # seconds, whatever unit parquet stored


def test_a_table_of_another_feature_set_is_refused(small_data: SmallData) -> None:
    meta = dict(small_data.table.schema.metadata)
    meta[b"returnrisk.feature_set_hash"] = b"0123456789abcdef"
    with pytest.raises(FeatureSetMismatch, match="has feature_set_hash 0123456789abcdef"):
        training_data(small_data.table.replace_schema_metadata(meta))


def test_time_split_cuts_at_moments_in_order() -> None:
    times = np.array([1, 2, 2, 3, 4, 5, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17])
    split = time_split(times, 0.2, 0.2)
    assert times[split.train].max() < times[split.calibration].min()
    assert times[split.calibration].max() < times[split.validation].min()
    assert len(split.train) + len(split.calibration) + len(split.validation) == len(times)
    with pytest.raises(DatasetError, match="cannot be split by time"):
        time_split(np.array([5, 5, 5, 5]), 0.2, 0.2)
