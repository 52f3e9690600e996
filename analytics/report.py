"""One report run: read the log, lay out the tables, compute every section, write the files.

`build_report` does the work and `write_report` writes `report.html`, one CSV per table and
`summary.json` into a folder. Both take what the CLI gathered, so the report can also be
built from Python (tests do).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.dataset import Selection, Tables, build_tables, read_events
from analytics.definitions import definitions, offer_definitions
from analytics.html import render_page
from analytics.marketing import FDR, MIN_TESTED_ORDERS, MarketingTables, marketing_tables
from analytics.offers import (
    MIN_GROUP_ORDERS,
    LogOrders,
    OfferTables,
    offer_tables,
)
from analytics.rates import ALL
from analytics.sections import ReportTable, Section, build_sections
from analytics.segmentation import SegmentPlan
from features.config import FeatureConfig
from features.replay import paused_gc
from schemas.offer_log import REPURCHASE_DAYS, read_offers

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""(stage, done, total): stages 'read', 'replay', 'sections'."""


class EmptySelectionError(ValueError):
    """No order is in the period and matches the filter: there is nothing to report."""


@dataclass
class Report:
    sections: list[Section]
    summary: dict[str, Any]

    def tables(self) -> list[ReportTable]:
        return [table for section in self.sections for table in section.tables()]


@dataclass
class _Clock:
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - started, 2)


def build_report(
    events_path: Path,
    plan: SegmentPlan,
    selection: Selection,
    config: FeatureConfig | None = None,
    progress: Progress | None = None,
    offers_path: Path | None = None,
) -> Report:
    """Everything the report shows, computed once; the offers section only with `offers_path`.

    Raises `ValueError` subclasses for a rule or grouping naming something the log does not
    have or a bad offers file (read first, so it fails before the long replay), and
    `EmptySelectionError` when no order is selected.
    """
    config = config or FeatureConfig()
    clock = _Clock()
    with paused_gc():
        with clock.stage("read_s"):
            offers = read_offers(offers_path) if offers_path else None
            events, invalid = read_events(events_path, progress)
        with clock.stage("replay_s"):
            tables = build_tables(events, plan, selection, config, progress)
            log_orders = LogOrders.from_events(events) if offers else None
        tables.counts.invalid_lines = len(invalid)
        del events
    if tables.orders.empty:
        raise EmptySelectionError(
            "no order is in the period and matches the filter: nothing to report"
        )
    with clock.stage("marketing_s"):
        marketing = marketing_tables(tables)
    measured = None
    if offers is not None and log_orders is not None:
        with clock.stage("offers_s"):
            measured = offer_tables(offers, log_orders, tables)
    with clock.stage("sections_s"):
        sections = build_sections(tables, marketing, measured, progress)
    summary = _summary(events_path, tables, selection, marketing, sections, config)
    if measured is not None:
        summary["offers"] = _offers_summary(offers_path, measured)
        summary["definitions"] |= offer_definitions(MIN_GROUP_ORDERS, FDR, REPURCHASE_DAYS)
    summary["log"]["invalid_examples"] = [f"line {i.line_number}: {i.error}" for i in invalid[:10]]
    summary["timings"] = clock.timings
    return Report(sections, summary)


def write_report(report: Report, out: Path) -> list[Path]:
    """Write every table as CSV, summary.json and report.html into `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in report.tables():
        path = out / f"{table.name}.csv"
        table.frame.to_csv(path, index=False)
        written.append(path)
    started = time.perf_counter()
    page = render_page(report.sections, report.summary)
    report.summary["timings"]["html_s"] = round(time.perf_counter() - started, 2)
    (out / "report.html").write_text(page, encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(_jsonable(report.summary), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    return [*written, out / "report.html", out / "summary.json"]


def _summary(
    events_path: Path,
    tables: Tables,
    selection: Selection,
    marketing: MarketingTables,
    sections: list[Section],
    config: FeatureConfig,
) -> dict[str, Any]:
    orders = tables.orders
    frames = {t.name: t.frame for s in sections for t in s.tables()}
    rates, values = frames["rates_segment"], frames["value_segment"]
    summary = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "events_file": str(events_path),
        "selection": {
            "orders_from": str(selection.start or _day(orders["at"].min())),
            "orders_to": str(selection.end or _day(orders["at"].max())),
            "filter": tables.plan.filter.source if tables.plan.filter else None,
            "segments": tables.plan.segments_source,
            "segment_by": list(tables.plan.segment_by),
            "attribution_window_days": selection.attribution_window_days,
        },
        "log": {
            **asdict(tables.counts),
            "first_event": str(tables.log_start),
            "last_event": str(tables.log_end),
        },
        "overall": rates[rates["group"] == ALL].iloc[0].to_dict(),
        "value_by_currency": values[values["group"] == ALL]
        .drop(columns="group")
        .to_dict("records"),
        "segments": rates[rates["group"] != ALL].set_index("group").to_dict("index"),
        "flagged": marketing.flagged().to_dict("records"),
        "definitions": definitions(config, MIN_TESTED_ORDERS, FDR),
        "tables": {name: f"{name}.csv" for name in frames},
    }
    return _jsonable(summary)  # type: ignore[no-any-return]


def _offers_summary(path: Path | None, offers: OfferTables) -> dict[str, Any]:
    """The offers section for summary.json: counts, knobs, every table, the flagged rows."""
    return _jsonable(  # type: ignore[no-any-return]
        {
            "offers_file": str(path),
            "counts": asdict(offers.counts),
            "min_group_orders": MIN_GROUP_ORDERS,
            "fdr": FDR,
            "repurchase_days": REPURCHASE_DAYS,
            "rules": offers.rules.to_dict("records"),
            **{metric.name: frame.to_dict("records") for metric, frame in offers.metrics().items()},
            "flagged": offers.flagged().to_dict("records"),
        }
    )


def _day(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(int(epoch_seconds), UTC).date().isoformat()


def _jsonable(value: Any) -> Any:
    """numpy scalars as Python numbers, NaN as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, str):
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
