"""Helpers for the importer's tests: the committed sample and rows in its layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.summary import ImportSummary

SAMPLE = Path(__file__).parent / "data" / "online_retail_ii_sample.csv"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"

Importer = Callable[..., tuple[ImportSummary, list[dict[str, Any]], Path, Path]]
"""`import_files(*paths, mapping=None)` -> (summary, events, log path, rejects path)."""


def write_rows(path: Path, *rows: str) -> Path:
    """A CSV in the Online Retail II layout with these data rows."""
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path
