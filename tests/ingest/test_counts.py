"""The import's counts equal a hand computation with pandas (tests/ingest/hand_count.py).

On the committed sample always; on the full 2009-2010 year of Online Retail II too when
RETURNRISK_REAL_DATA=1 and ../shared/data holds it (about 30 s, so not by default).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest

from tests.ingest.hand_count import hand_count
from tests.ingest.helpers import SAMPLE, Importer

REAL = Path(__file__).parents[2].parent / "shared" / "data" / "online_retail_ii_2009_2010.csv.gz"


def _check(path: Path, import_files: Importer) -> dict[str, Any]:
    expected = hand_count(path)
    summary, events, _, rejects = import_files(path)
    orders = [e for e in events if e["event_type"] == "order_placed"]
    returns = [e for e in events if e["event_type"] == "return_requested"]
    assert summary.rows_read == expected["rows_read"]
    assert summary.orders == len(orders) == expected["orders"]
    assert summary.order_lines == sum(len(o["lines"]) for o in orders) == expected["order_lines"]
    assert sum(line["quantity"] for o in orders for line in o["lines"]) == expected["ordered_units"]
    assert summary.return_requests == len(returns) == expected["return_requests"]
    assert summary.return_lines == expected["return_lines"]
    assert (
        sum(line["quantity"] for r in returns for line in r["lines"]) == expected["returned_units"]
    )
    assert summary.customers == expected["customers"]
    assert dict(summary.excluded) == {k: v for k, v in expected["excluded"].items() if v}
    with rejects.open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["row"]) for r in rows] == expected["unmatched_rows"]
    assert {r["reason"] for r in rows} <= {"credit with no earlier purchase"}
    assert summary.rejected["credit with no earlier purchase"] == len(expected["unmatched_rows"])
    return expected


def test_sample_counts_match_a_hand_computation(import_files: Importer) -> None:
    expected = _check(SAMPLE, import_files)
    # The sample has what it was cut for: every kind of exclusion, matched and unmatched credits.
    assert all(expected["excluded"].values())
    assert expected["return_requests"] >= 5 and expected["unmatched_rows"]


@pytest.mark.skipif(
    os.environ.get("RETURNRISK_REAL_DATA") != "1" or not REAL.exists(),
    reason="set RETURNRISK_REAL_DATA=1 with ../shared/data/online_retail_ii_2009_2010.csv.gz",
)
def test_full_year_counts_match_a_hand_computation(import_files: Importer) -> None:
    _check(REAL, import_files)
