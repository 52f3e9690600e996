"""The report's content: sections of tables and charts, built once from the tables.

One `ReportTable` is both an HTML table and a CSV file (the same frame), so the page and the
files cannot disagree. Each table names its sample-size column, shown on every row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from analytics import charts, rates
from analytics.dataset import Tables
from analytics.marketing import MarketingTables
from analytics.offers import MIN_GROUP_ORDERS, RETURNED_VALUE, OfferTables
from analytics.segmentation import CUSTOMER_TYPE, SEGMENT

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReportTable:
    name: str
    """File stem of its CSV, e.g. `rates_segment`."""
    title: str
    frame: pd.DataFrame
    n_column: str
    """The column holding each row's sample size."""
    note: str = ""
    bold_top: int = 0
    """Bold the largest N `_share` cells of each row (the top reasons)."""
    in_html: bool = True
    """False for data behind a chart (one row per group and week): CSV only."""


@dataclass(frozen=True)
class Chart:
    title: str
    uri: str
    data: str
    """The CSV the chart is drawn from."""


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    intro: str
    items: tuple[ReportTable | Chart, ...]

    def tables(self) -> list[ReportTable]:
        return [item for item in self.items if isinstance(item, ReportTable)]


def slug(name: str) -> str:
    """A dimension name as part of a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "attribute"


def dimension_section(tables: Tables, dimension: str, title: str, intro: str) -> Section:
    """Every per-group table and chart for one dimension."""
    key = slug(dimension)
    by_rates = rates.return_rates(tables, dimension)
    trend = rates.weekly_trend(tables, dimension)
    items: list[ReportTable | Chart] = [
        ReportTable(f"rates_{key}", "Return rates and frequency", by_rates, "orders"),
        Chart(
            "return rates",
            charts.rate_bars(by_rates, f"return rates by {dimension}"),
            f"rates_{key}.csv",
        ),
        ReportTable(
            f"value_{key}",
            "Value return rate, per currency",
            rates.value_rates(tables, dimension),
            "orders",
        ),
        ReportTable(
            f"reasons_{key}",
            "Return reasons (commercial returns)",
            rates.reason_mix(tables, dimension),
            "returned_items",
            note="Reasons ordered by how often they are given overall; top three per row bold.",
            bold_top=3,
        ),
        ReportTable(
            f"return_types_{key}",
            "Return type mix",
            rates.return_type_mix(tables, dimension),
            "requests",
        ),
        ReportTable(
            f"days_to_return_{key}",
            "Days from order to return request",
            rates.days_to_return(tables, dimension),
            "commercial_requests",
        ),
    ]
    if dimension == CUSTOMER_TYPE:
        days = rates.request_days(tables)
        groups = days["order_id"].map(tables.orders.set_index("order_id")[CUSTOMER_TYPE])
        histograms = {
            group: days.loc[groups == group, "days"].to_numpy()
            for group in tables.group_order[dimension]
        }
        items.append(
            Chart(
                "days to return",
                charts.days_histograms(histograms, "days to return"),
                f"days_to_return_{key}.csv",
            )
        )
    items += [
        Chart(
            "weekly trend",
            charts.trend_lines(trend, tables.log_end, f"by {dimension}"),
            f"trend_{key}.csv",
        ),
        ReportTable(f"trend_{key}", "Weekly trend", trend, "orders", in_html=False),
        ReportTable(
            f"condition_{key}",
            "Received condition (commercial returns)",
            rates.received_condition(tables, dimension),
            "received_items",
            note="Worn and damaged items cannot be resold at full price.",
        ),
    ]
    return Section(f"by-{key}", title, intro, tuple(items))


def marketing_section(marketing: MarketingTables) -> Section:
    campaigns = marketing.campaigns
    return Section(
        "marketing",
        "Marketing: channels and campaigns",
        "Orders credited to their last touch; lift against no-touch orders of the same week, "
        "segment, customer type and loyalty tier. Flagged rows (red) come back significantly "
        "more often after Benjamini-Hochberg correction; rows below the test size are shown, "
        "never flagged.",
        (
            ReportTable("marketing_channels", "Per channel", marketing.channels, "orders"),
            ReportTable("marketing_campaigns", "Per campaign", campaigns, "orders"),
            Chart(
                "campaign lift",
                charts.lift_forest(campaigns, "campaign lift"),
                "marketing_campaigns.csv",
            ),
            ReportTable(
                "marketing_campaign_segments",
                "Per campaign within each segment",
                marketing.campaign_segments,
                "orders",
            ),
        ),
    )


def offers_section(offers: OfferTables) -> Section:
    """Per rule, treated against held-out orders: a table and a chart per metric."""
    items: list[ReportTable | Chart] = [
        ReportTable("offers", "Offer rules", offers.rules, "orders"),
    ]
    for metric, frame in offers.metrics().items():
        name = f"offers_{metric.name}"
        items.append(ReportTable(name, metric.title, frame, "orders"))
        column = f"{metric.name}_difference"
        if frame[column].notna().any():
            unit = "order's currency" if metric is RETURNED_VALUE else "pp"
            chart = charts.difference_forest(frame, column, metric.title, unit)
            items.append(Chart(f"{metric.name} difference", chart, f"{name}.csv"))
    return Section(
        "offers",
        "Offers: each rule against its holdout",
        "A random share of customers is held out of each offer rule (not made the offer, but "
        "recorded). Per rule, orders of treated customers against orders of held-out ones, "
        "differences with 95 % intervals allowing for repeat customers; flagged rows (red) "
        "differ significantly after Benjamini-Hochberg correction over every rule and metric. "
        "Groups under "
        f"{MIN_GROUP_ORDERS} orders are shown, never flagged (why_not_tested says why).",
        tuple(items),
    )


def overview_section(marketing: MarketingTables) -> Section:
    return Section(
        "flagged",
        "Flagged: significant excess returns",
        "Channels, campaigns and campaigns within a segment whose orders come back "
        "significantly more often than comparable untouched orders (details under Marketing).",
        (ReportTable("flagged", "Flagged rows", marketing.flagged(), "orders"),),
    )


def build_sections(
    tables: Tables,
    marketing: MarketingTables,
    offers: OfferTables | None = None,
    progress: Progress | None = None,
) -> list[Section]:
    """Segments first, then each --segment-by attribute, customer types, marketing, offers
    (with --offers)."""
    plan = tables.plan
    specs = [
        (SEGMENT, "Segments", f"Segment rules from {plan.segments_source}, first match wins."),
        *(
            (name, f"By {name}", f"Groups of the order's {name} as it was when it was placed.")
            for name in plan.segment_by
        ),
        (
            CUSTOMER_TYPE,
            "New vs returning vs loyal customers",
            "Side by side: rates, reasons and time to return of the three customer types.",
        ),
    ]
    sections = [overview_section(marketing)]
    for done, (dimension, title, intro) in enumerate(specs):
        if progress:
            progress("sections", done, len(specs) + 1)
        sections.append(dimension_section(tables, dimension, title, intro))
    sections.append(marketing_section(marketing))
    if offers is not None:
        sections.append(offers_section(offers))
    if progress:
        progress("sections", len(specs) + 1, len(specs) + 1)
    return sections
