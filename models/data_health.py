"""Data health of a training run: is the history fit to learn from and to judge a model by?

Figures over every labelled row (train, calibration and validation), in `metrics.json` under
`data_health`, in the report and, shortened, in what `returnrisk train` prints:

- `label_rate_by_month`: orders and return rate per calendar month (UTC) of the order: a month
  far off the others is a labelling or import problem before it is a model problem;
- `segments`: each segment's orders and share of all orders, and its validation orders;
- `feature_missing`: each feature's share of rows missing (NaN for numbers, None for
  categories), largest first, with `most_missing` the top `MOST_MISSING` of them;
- `customers_over_1000_orders`: customers with more than 1,000 labelled orders (wholesale
  buyers; one of them can dominate a segment);
- `warnings`: every segment with fewer than `MIN_VALIDATION_ORDERS` validation orders, whose
  validation metrics are too noisy to compare models by.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from models.dataset import Columns

logger = logging.getLogger(__name__)

MIN_VALIDATION_ORDERS = 500
HEAVY_CUSTOMER_ORDERS = 1000
MOST_MISSING = 10


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def label_rate_by_month(
    occurred_at: npt.NDArray[np.int64], label: npt.NDArray[np.integer]
) -> dict[str, dict[str, Any]]:
    """`{"2025-01": {"orders": n, "label_rate": r}}`, months in order."""
    months = [datetime.fromtimestamp(at, UTC).strftime("%Y-%m") for at in occurred_at.tolist()]
    result: dict[str, dict[str, Any]] = {}
    keys = np.array(months, dtype=object)
    for month in sorted(set(months)):
        rows = keys == month
        result[month] = {
            "orders": int(rows.sum()),
            "label_rate": round(float(label[rows].mean()), 6),
        }
    return result


def missing_shares(columns: Columns) -> dict[str, float]:
    """Each feature's share of rows missing, largest first (ties by name)."""
    shares = {}
    for name, column in columns.items():
        if isinstance(column, np.ndarray):
            missing = int(np.isnan(column).sum())
        else:
            missing = sum(
                1 for v in column if v is None or (isinstance(v, float) and math.isnan(v))
            )
        shares[name] = _share(missing, len(column))
    return dict(sorted(shares.items(), key=lambda item: (-item[1], item[0])))


def segment_shares(
    assigned: Sequence[str], validation: npt.NDArray[np.int64], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each segment's orders, share of all orders and validation orders (every named segment,
    empty ones too)."""
    counts = Counter(assigned)
    in_validation = Counter(assigned[i] for i in validation.tolist())
    return {
        name: {
            "orders": counts[name],
            "share": _share(counts[name], len(assigned)),
            "validation_orders": in_validation[name],
        }
        for name in names
    }


def small_segment_warnings(segments: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"segment {name} has {entry['validation_orders']} validation orders "
        f"(< {MIN_VALIDATION_ORDERS}): its validation metrics are too noisy to compare by"
        for name, entry in segments.items()
        if entry["validation_orders"] < MIN_VALIDATION_ORDERS
    ]


def data_health(
    columns: Columns,
    label: npt.NDArray[np.integer],
    occurred_at: npt.NDArray[np.int64],
    customer_id: Sequence[str],
    assigned: Sequence[str],
    validation: npt.NDArray[np.int64],
    segment_names: Sequence[str],
) -> dict[str, Any]:
    """Every figure of the module docstring, JSON-ready."""
    missing = missing_shares(columns)
    segments = segment_shares(assigned, validation, segment_names)
    heavy = sum(1 for n in Counter(customer_id).values() if n > HEAVY_CUSTOMER_ORDERS)
    return {
        "orders": len(label),
        "label_rate_by_month": label_rate_by_month(occurred_at, label),
        "segments": segments,
        "feature_missing": missing,
        "most_missing": [[name, share] for name, share in list(missing.items())[:MOST_MISSING]],
        "customers_over_1000_orders": heavy,
        "warnings": small_segment_warnings(segments),
    }


def summary_lines(health: dict[str, Any]) -> list[str]:
    """A few lines for the console: months, segment shares, most-missing features, heavy
    customers, then each warning."""
    by_month = health["label_rate_by_month"]
    months = ", ".join(f"{month} {entry['label_rate']:.3f}" for month, entry in by_month.items())
    segments = ", ".join(
        f"{name} {entry['share']:.1%}" for name, entry in health["segments"].items()
    )
    missing = ", ".join(f"{name} {share:.0%}" for name, share in health["most_missing"][:5])
    return [
        f"label rate by month: {months}",
        f"orders by segment: {segments}",
        f"most missing features: {missing}",
        f"customers with over {HEAVY_CUSTOMER_ORDERS:,} orders: "
        f"{health['customers_over_1000_orders']}",
        *(f"warning: {w}" for w in health["warnings"]),
    ]
