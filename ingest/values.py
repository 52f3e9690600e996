"""Column values -> contract values: text ids, timestamps, quantities and exact prices.

Each function takes a whole chunk's column (a pyarrow array of text, or a typed Parquet column)
and returns arrays, so a million rows cost a few vectorised passes, not a million calls.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest.mapping import TimestampRule
from schemas.common import MONEY_MAX

ObjectArray = np.ndarray[Any, np.dtype[np.object_]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]

_INTEGRAL_TEXT = re.compile(r"^([0-9]+)\.0+$")

PRICE_OK, PRICE_NOT_NUMBER, PRICE_NEGATIVE, PRICE_PRECISION, PRICE_TOO_LARGE = range(5)


def text(column: pa.Array | pa.ChunkedArray, *, integral: bool = False) -> ObjectArray:
    """Values as stripped text; null is ''. With `integral`, a whole number written with a
    trailing '.0' loses it (a customer id a spreadsheet turned into 13085.0 is 13085), as a
    float column's whole numbers always do."""
    kind = column.type
    if pa.types.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False)
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = "" if v != v else (str(int(v)) if float(v).is_integer() else repr(float(v)))
        return out
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        column = pc.cast(column, pa.string())
    stripped = pc.utf8_trim_whitespace(column).fill_null("")
    series = pd.Series(stripped.to_numpy(zero_copy_only=False), dtype=object)
    if integral:
        whole = series.str.match(_INTEGRAL_TEXT)
        if whole.any():
            series[whole] = series[whole].str.replace(_INTEGRAL_TEXT, r"\1", regex=True)
    result: ObjectArray = series.to_numpy(dtype=object)
    return result


def epoch_seconds(
    column: pa.Array | pa.ChunkedArray, rule: TimestampRule
) -> tuple[IntArray, BoolArray, BoolArray]:
    """(UTC epoch seconds, unparseable, nonexistent-or-ambiguous local time) per value.

    Seconds are floored: events carry whole seconds, as the simulator's do.
    """
    kind = column.type
    if pa.types.is_timestamp(kind):
        parsed = pd.Series(column.to_pandas())
    else:
        values = pd.Series(text(column), dtype=object)
        parsed = pd.to_datetime(
            values, format=rule.format or "ISO8601", errors="coerce", utc=rule.timezone is None
        )
    unparseable = parsed.isna().to_numpy()
    if parsed.dt.tz is None:
        if rule.timezone is None:
            parsed = parsed.dt.tz_localize("UTC")
        else:
            parsed = parsed.dt.tz_localize(rule.timezone, ambiguous="NaT", nonexistent="NaT")
    local_gap = parsed.isna().to_numpy() & ~unparseable
    utc = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    nanos = utc.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    seconds = np.where(parsed.isna().to_numpy(), 0, nanos // 1_000_000_000).astype(np.int64)
    return seconds, unparseable, local_gap


def quantities(column: pa.Array | pa.ChunkedArray) -> tuple[IntArray, BoolArray]:
    """(whole units, not a whole number) per value; a bad value's units are 0."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = pd.Series(column.to_numpy(zero_copy_only=False), dtype="float64")
    else:
        values = pd.to_numeric(pd.Series(text(column), dtype=object), errors="coerce")
    numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers))
    units = np.where(bad, 0, numbers).astype(np.int64)
    return units, bad


def _price(value: str) -> tuple[str, int]:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return "", PRICE_NOT_NUMBER
    if not amount.is_finite():
        return "", PRICE_NOT_NUMBER
    if amount < 0:
        return "", PRICE_NEGATIVE
    exact = amount.normalize()
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        return "", PRICE_PRECISION
    if exact > MONEY_MAX:
        return "", PRICE_TOO_LARGE
    return format(exact, "f"), PRICE_OK


def prices(column: pa.Array | pa.ChunkedArray) -> tuple[ObjectArray, IntArray]:
    """(exact decimal text such as '2.1', status) per value; see the PRICE_* statuses.

    Floats from Parquet are read through their shortest repr (2.1, not 2.100000000000000088).
    """
    values = (
        text(column)
        if not pa.types.is_decimal(column.type)
        else np.array([("" if v is None else str(v)) for v in column.to_pylist()], dtype=object)
    )
    series = pd.Series(values, dtype=object)
    uniques = series.unique()
    parsed = {value: _price(value) for value in uniques}
    exact = series.map(lambda v: parsed[v][0]).to_numpy(dtype=object)
    status = series.map(lambda v: parsed[v][1]).to_numpy(dtype=np.int64)
    return exact, status


def mapped(
    values: ObjectArray, table: dict[str, str], valid: re.Pattern[str] | frozenset[str]
) -> tuple[ObjectArray, BoolArray]:
    """(mapped value, or '' where neither the table nor the value itself is valid; unmapped)."""
    series = pd.Series(values, dtype=object)
    out: dict[str, str] = {}
    for value in series.unique():
        candidate = table.get(value, value)
        ok = candidate in valid if isinstance(valid, frozenset) else bool(valid.match(candidate))
        out[value] = str(candidate) if ok else ""
    result = series.map(out).to_numpy(dtype=object)
    return result, result == ""
