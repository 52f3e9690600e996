"""The report's charts, drawn with matplotlib (Agg) and embedded as base64 PNG data URIs.

Embedding keeps report.html one self-contained file that can be mailed or attached to a
ticket and opens offline. Every chart labels its groups with their sample size.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from reporting.charts import data_uri, pyplot

logger = logging.getLogger(__name__)

MIN_WEEK_ORDERS = 20
"""A group's week with fewer orders is left out of the trend lines (too noisy to read)."""
PENDING_DAYS = 30
"""Orders this close to the end of the log may still be returned: shaded on the trend."""
FLAG_COLOUR = "#d62728"
COLOUR = "#1f77b4"
MUTED = "#999999"


def _label(group: str, n: int, unit: str = "orders") -> str:
    return f"{group} (n={n:,} {unit})"


def rate_bars(rates: pd.DataFrame, title: str) -> str:
    """Order and item return rate per group, order rate with its 95 % interval."""
    plt = pyplot()
    rows = rates.iloc[::-1]
    y = np.arange(len(rows))
    figure, axes = plt.subplots(figsize=(8, 0.42 * len(rows) + 1.2))
    order_rate = rows["order_return_rate"].to_numpy(dtype=np.float64)
    errors = np.vstack(
        [
            order_rate - rows["order_return_rate_ci_low"].to_numpy(dtype=np.float64),
            rows["order_return_rate_ci_high"].to_numpy(dtype=np.float64) - order_rate,
        ]
    )
    axes.barh(y + 0.2, order_rate, 0.4, xerr=errors, color=COLOUR, label="order return rate")
    axes.barh(y - 0.2, rows["item_return_rate"], 0.4, color="#ff7f0e", label="item return rate")
    axes.set_yticks(y, [_label(g, n) for g, n in zip(rows["group"], rows["orders"], strict=True)])
    axes.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    axes.set(title=title, xlabel="share returned (bars: 95 % CI of the order rate)")
    axes.legend(fontsize=8, loc="lower right")
    return data_uri(figure)


def trend_lines(trend: pd.DataFrame, log_end: datetime | None, title: str) -> str:
    """Weekly cohort item return rate and weekly requested-to-sold ratio, one line a group;
    partial weeks at the ends of the period and weeks with few orders are left out."""
    plt = pyplot()
    figure, (cohort, flow) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    for group, rows in trend.groupby("group", sort=False):
        label = _label(str(group), int(rows["orders"].sum()))
        rows = rows[rows["complete_week"]].sort_values("week")
        weeks = pd.to_datetime(rows["week"])
        thin = rows["orders"] < MIN_WEEK_ORDERS
        style = {"color": "black", "linestyle": "--"} if group == "(all)" else {}
        cohort.plot(weeks, rows["item_return_rate"].mask(thin), label=label, **style)
        flow.plot(weeks, rows["requested_to_sold_ratio"].mask(thin), **style)
    if log_end is not None:
        pending = pd.Timestamp(log_end.replace(tzinfo=None) - timedelta(days=PENDING_DAYS))
        cohort.axvspan(pending, pd.Timestamp(log_end.replace(tzinfo=None)), color="#eeeeee")
        cohort.text(
            pending,
            0.02,
            " returns still\n arriving",
            fontsize=7,
            color="#666666",
            transform=cohort.get_xaxis_transform(),
        )
    cohort.set(title=f"{title}: item return rate of the orders placed each week")
    flow.set(title="items requested back each week / items sold that week")
    for axes in (cohort, flow):
        axes.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        axes.grid(alpha=0.3)
    cohort.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    return data_uri(figure)


def days_histograms(days: Mapping[str, npt.NDArray[np.float64]], title: str) -> str:
    """Distribution of days from order to return request, one outline per group."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 3.6))
    finite = [d for d in days.values() if len(d)]
    top = max((float(np.percentile(d, 99)) for d in finite), default=30.0)
    bins = np.linspace(0, max(top, 1.0), 40)
    for group, values in days.items():
        if len(values):
            axes.hist(
                values,
                bins=bins,
                density=True,
                histtype="step",
                linewidth=1.6,
                label=_label(group, len(values), "requests"),
            )
    axes.set(title=title, xlabel="days from order to return request", ylabel="density")
    axes.legend(fontsize=8)
    return data_uri(figure)


def lift_forest(rows: pd.DataFrame, title: str) -> str:
    """Lift with its 95 % interval per group, flagged ones in red, untested ones grey."""
    plt = pyplot()
    rows = rows[rows["lift"].notna()].sort_values("lift")
    figure, axes = plt.subplots(figsize=(8, 0.36 * len(rows) + 1.2))
    y = np.arange(len(rows))
    for i, row in enumerate(rows.itertuples()):
        colour = FLAG_COLOUR if row.flagged else COLOUR if row.tested else MUTED
        if np.isfinite(row.lift_low) and np.isfinite(row.lift_high):
            axes.plot([row.lift_low, row.lift_high], [i, i], color=colour, linewidth=2)
        axes.plot([row.lift], [i], "o", color=colour)
    labels = [_label(str(n), int(o)) for n, o in zip(rows["name"], rows["orders"], strict=True)]
    axes.set_yticks(y, labels)
    axes.axvline(1.0, color=MUTED, linestyle=":")
    axes.set(
        title=title,
        xlabel="lift over comparable no-touch orders (95 % CI); red: flagged, grey: not tested",
    )
    return data_uri(figure)


def difference_forest(rows: pd.DataFrame, column: str, title: str, unit: str) -> str:
    """Treated minus held-out with its 95 % interval per row (rule, or rule and currency);
    flagged red, untested grey; `unit` 'pp' draws a rate difference in percentage points."""
    plt = pyplot()
    rows = rows[rows[column].notna()].iloc[::-1]
    figure, axes = plt.subplots(figsize=(8, 0.36 * len(rows) + 1.2))
    scale = 100.0 if unit == "pp" else 1.0
    for i, row in enumerate(rows.to_dict("records")):
        colour = FLAG_COLOUR if row["flagged"] else COLOUR if row["tested"] else MUTED
        low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
        if np.isfinite(low) and np.isfinite(high):
            axes.plot([low * scale, high * scale], [i, i], color=colour, linewidth=2)
        axes.plot([row[column] * scale], [i], "o", color=colour)
    axes.set_yticks(np.arange(len(rows)), [_rule_label(row) for row in rows.to_dict("records")])
    axes.axvline(0.0, color=MUTED, linestyle=":")
    axes.set(
        title=title,
        xlabel=f"treated - held out ({unit}, 95 % CI); red: flagged, grey: not tested",
    )
    return data_uri(figure)


def _rule_label(row: Mapping[str, object]) -> str:
    currency = f" ({row['currency']})" if "currency" in row else ""
    return (
        f"{row['rule']}{currency} "
        f"(n={row['treated_orders']:,} treated / {row['held_out_orders']:,} held out)"
    )
