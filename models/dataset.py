"""A training table (from `returnrisk features build`) read, checked and split by time.

A table is only usable by a model built on the same feature set: the table carries the hash
of the feature list and knobs it was built with, and `check_feature_set` refuses a mismatch
rather than letting a model read columns that mean something else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.config import FeatureConfig
from features.registry import CATEGORICAL, FEATURE_NAMES, feature_set_hash
from features.replay import HolidayReturns
from features.units import DAY
from models.encoding import Value
from models.feature_set import check_feature_set

logger = logging.getLogger(__name__)

HASH_KEY = b"returnrisk.feature_set_hash"
CONFIG_KEY = b"returnrisk.feature_config"
LABEL_WINDOW_KEY = b"returnrisk.label_window_days"
HOLIDAY_KEY = b"returnrisk.label_holiday_returns"
# the zones furthest from UTC: a holiday window's dates are the order's local dates, and the
# table keeps UTC times only, so the latest close any zone could give is taken
_EXTREME_ZONES = (timezone(timedelta(hours=-12)), UTC, timezone(timedelta(hours=14)))


class DatasetError(ValueError):
    """A training table that cannot be used as it is; the message says what to do."""


def table_hash(table: pa.Table) -> str | None:
    meta = table.schema.metadata or {}
    value = meta.get(HASH_KEY)
    return value.decode() if value else None


def read_table(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DatasetError(f"{path}: cannot read it as a parquet training table: {exc}") from None


Columns = dict[str, Sequence[Value] | npt.NDArray[np.float64]]


@dataclass(frozen=True)
class TrainingData:
    """Rows with a known label, oldest first, as plain columns."""

    columns: Columns
    label: npt.NDArray[np.int8]
    occurred_at: npt.NDArray[np.int64]
    """Epoch seconds."""
    order_id: list[str]
    customer_id: list[str]
    attributes: list[dict[str, Any]]
    feature_set_hash: str
    feature_config: str
    label_window_days: int
    dropped_incomplete: int
    label_closes_at: npt.NDArray[np.int64]
    """Epoch second by which each row's label is final (its return window has closed): the
    latest the table's label rule can give, so a label is never used before it is known."""

    def __len__(self) -> int:
        return len(self.label)

    def segment_rows(
        self, names: frozenset[str], indices: Sequence[int] | npt.NDArray[np.int64] | None = None
    ) -> list[dict[str, object]]:
        return segment_rows(self.columns, self.attributes, names, indices)


def segment_rows(
    columns: Columns,
    attributes: Sequence[dict[str, Any]],
    names: frozenset[str],
    indices: Sequence[int] | npt.NDArray[np.int64] | None = None,
) -> list[dict[str, object]]:
    """For each row (or those at `indices`), what segment rules read: the named features
    over the custom attributes (see `models.segments.segment_row`)."""
    used = [n for n in sorted(names) if n in columns]
    features = [columns[n] for n in used]
    rows = []
    for index in range(len(attributes)) if indices is None else indices:
        row: dict[str, object] = dict(attributes[index])
        for name, column in zip(used, features, strict=True):
            row[name] = column[index]
        rows.append(row)
    return rows


def feature_columns(table: pa.Table) -> tuple[Columns, list[dict[str, Any]]]:
    """Every feature as a column (numbers as float arrays, categories as strings or None) and
    each row's custom profile attributes."""
    missing = [n for n in FEATURE_NAMES if n not in table.column_names]
    if missing:
        raise DatasetError(f"the table lacks feature column(s) {', '.join(missing[:10])}")
    columns: Columns = {}
    for name in FEATURE_NAMES:
        column = table.column(name)
        if name in CATEGORICAL:
            columns[name] = column.cast(pa.string()).to_pylist()
        else:
            columns[name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
    raw = table.column("attributes").to_pylist() if "attributes" in table.column_names else None
    attributes = [json.loads(a) if a else {} for a in raw] if raw else [{}] * table.num_rows
    return columns, attributes


def training_data(table: pa.Table) -> TrainingData:
    """Check the table is this code's feature set, drop rows whose label window had not closed
    (their label may still flip to 1), and sort the rest by time."""
    meta = table.schema.metadata or {}
    found = table_hash(table)
    config_json = meta.get(CONFIG_KEY, b"").decode()
    try:
        config = FeatureConfig.model_validate_json(config_json or "{}")
    except ValueError as exc:
        raise DatasetError(f"the table's feature config is not readable: {exc}") from None
    check_feature_set(
        found, feature_set_hash(config), "the training table", "this code's feature registry"
    )
    missing = [n for n in ("label", "label_complete", "occurred_at") if n not in table.column_names]
    if missing:
        raise DatasetError(f"the training table lacks column(s) {', '.join(missing)}")
    complete = pc.fill_null(table.column("label_complete"), False)
    kept = table.filter(complete)
    keys = pa.table(
        {"at": kept.column("occurred_at"), "order": kept.column("order_id").cast(pa.string())}
    )
    kept = kept.take(pc.sort_indices(keys, sort_keys=[("at", "ascending"), ("order", "ascending")]))
    if kept.num_rows == 0:
        raise DatasetError(
            "no rows with a closed label window: the log is shorter than the label window"
        )
    columns, attributes = feature_columns(kept)
    occurred_at = epoch_seconds(kept.column("occurred_at"))
    window_days = int(meta.get(LABEL_WINDOW_KEY, b"30"))
    holiday = holiday_rule(meta.get(HOLIDAY_KEY))
    return TrainingData(
        columns=columns,
        label=kept.column("label").to_numpy(zero_copy_only=False).astype(np.int8),
        occurred_at=occurred_at,
        order_id=kept.column("order_id").cast(pa.string()).to_pylist(),
        customer_id=kept.column("customer_id").cast(pa.string()).to_pylist(),
        attributes=attributes,
        feature_set_hash=found or "",
        feature_config=config_json,
        label_window_days=window_days,
        dropped_incomplete=table.num_rows - kept.num_rows,
        label_closes_at=label_closes_at(occurred_at, window_days, holiday),
    )


def holiday_rule(value: bytes | None) -> HolidayReturns | None:
    """The holiday window a table was labelled with (`MM-DD..MM-DD->MM-DD` or `none`); a table
    that does not say gets the default rule, which `features build` has always applied."""
    if value is None:
        return HolidayReturns()
    text = value.decode()
    if text == "none":
        return None
    try:
        dates, until = text.split("->")
        start, end = dates.split("..")
    except ValueError:
        raise DatasetError(
            f"the table's {HOLIDAY_KEY.decode()} is {text!r}; expected MM-DD..MM-DD->MM-DD or none"
        ) from None
    return HolidayReturns(start=start, end=end, until=until)


def label_closes_at(
    occurred_at: npt.NDArray[np.int64], window_days: int, holiday: HolidayReturns | None
) -> npt.NDArray[np.int64]:
    """When each order's label window closes: `window_days` after it, or at the end of the
    holiday window when that is later (in whichever zone closes latest; see `_EXTREME_ZONES`).

    >>> import numpy as np
    >>> int(label_closes_at(np.array([0]), 30, None)[0]) == 30 * 86_400
    True
    """
    closes = occurred_at + window_days * DAY
    if holiday is None:
        return closes
    result = closes.copy()
    for index, at in enumerate(occurred_at.tolist()):
        for zone in _EXTREME_ZONES:
            extended = holiday.closes(datetime.fromtimestamp(at, zone))
            if extended is not None:
                result[index] = max(result[index], int(extended.timestamp()))
    return result


def epoch_seconds(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Order times as epoch seconds, whatever unit the file stored (parquet keeps ms)."""
    seconds = column.cast(pa.timestamp("s", tz="UTC")).cast(pa.int64())
    return np.asarray(seconds.to_numpy(zero_copy_only=False), dtype=np.int64)


@dataclass(frozen=True)
class TimeSplit:
    """Row indices of the three slices, by order time: train < calibration < validation."""

    train: npt.NDArray[np.int64]
    calibration: npt.NDArray[np.int64]
    validation: npt.NDArray[np.int64]
    calibration_from: int
    validation_from: int


def time_split(
    occurred_at: npt.NDArray[np.int64], calibration_share: float, validation_share: float
) -> TimeSplit:
    """Cut sorted order times at two moments so the slices hold about the given shares.

    A cut is a moment, not a row count, so orders placed at the same second never straddle
    two slices: the validation slice is strictly newer than anything the model fitted on.
    """
    n = len(occurred_at)
    if n and np.any(np.diff(occurred_at) < 0):
        raise DatasetError("rows must be sorted by occurred_at")
    cal_from = int(occurred_at[int(n * (1 - calibration_share - validation_share))])
    val_from = int(occurred_at[min(n - 1, int(n * (1 - validation_share)))])
    index = np.arange(n, dtype=np.int64)
    split = TimeSplit(
        train=index[occurred_at < cal_from],
        calibration=index[(occurred_at >= cal_from) & (occurred_at < val_from)],
        validation=index[occurred_at >= val_from],
        calibration_from=cal_from,
        validation_from=val_from,
    )
    if min(len(split.train), len(split.calibration), len(split.validation)) == 0:
        raise DatasetError(
            f"{n} labelled rows cannot be split by time into train / calibration / validation; "
            "use a longer or larger log"
        )
    return split
