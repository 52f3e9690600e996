"""Return rates, reasons, return types, timing, received condition and trends per group.

Every function takes the report's tables and one dimension (segment, customer_type or a
`--segment-by` attribute) and returns one row per group of that dimension, after a first
row `(all)` for every selected order, each row carrying its sample size. The numbers are
plain counts and ratios of counts, so anyone can recount them from the log (the definitions
are in `analytics.definitions`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics.dataset import Tables
from analytics.stats import wilson_interval
from features.units import DAY
from schemas.common import ItemCondition, ReasonCode, ReturnType

logger = logging.getLogger(__name__)

ALL = "(all)"
COMMERCIAL = ReturnType.COMMERCIAL.value
RETURN_TYPES = tuple(t.value for t in ReturnType)
CONDITIONS = tuple(c.value for c in ItemCondition)
REASONS = tuple(r.value for r in ReasonCode)
_EPOCH_THURSDAY = 3  # 1970-01-01 was a Thursday; weeks start on Monday


def _grouped(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """`frame` twice: once as the group `(all)`, once under each row's own group."""
    return pd.concat(
        [frame.assign(group=ALL), frame.assign(group=frame[column])], ignore_index=True
    )


def _ordered(table: pd.DataFrame, tables: Tables, dimension: str) -> pd.DataFrame:
    """Rows in display order, `(all)` first; `group` becomes a column."""
    groups = [ALL, *tables.group_order[dimension]]
    return table.reindex([g for g in groups if g in table.index]).rename_axis("group").reset_index()


def _sorted_by_group(
    table: pd.DataFrame, tables: Tables, dimension: str, then: str
) -> pd.DataFrame:
    """Long tables (group x currency, group x week): groups in display order, then `then`."""
    rank = {group: i for i, group in enumerate([ALL, *tables.group_order[dimension]])}
    table = table[table["group"].isin(rank)]
    table = table.assign(_rank=table["group"].map(rank)).sort_values(["_rank", then])
    return table.drop(columns="_rank").reset_index(drop=True)


def _share(part: pd.Series | np.ndarray, whole: pd.Series | np.ndarray) -> npt.NDArray[np.float64]:
    """part / whole, NaN where the whole is 0 (a rate of nothing is unknown, not 0)."""
    part_, whole_ = np.asarray(part, dtype=np.float64), np.asarray(whole, dtype=np.float64)
    result: npt.NDArray[np.float64] = np.full(part_.shape, np.nan)
    np.divide(part_, whole_, out=result, where=whole_ > 0)
    return result


def _with_group(frame: pd.DataFrame, tables: Tables, dimension: str) -> pd.DataFrame:
    """Lines (of returns or receipts) with the group of the order they belong to."""
    column = tables.dimensions[dimension]
    groups = tables.orders.set_index("order_id")[column]
    return _grouped(frame.assign(**{column: frame["order_id"].map(groups)}), column)


def return_rates(tables: Tables, dimension: str) -> pd.DataFrame:
    """Orders, customers, item and order return rates, return frequency and the share of
    customers who return at all."""
    orders = _grouped(tables.orders, tables.dimensions[dimension])
    by_group = orders.groupby("group", sort=False)
    table = by_group.agg(
        orders=("order_id", "size"),
        customers=("customer_id", "nunique"),
        items_bought=("items", "sum"),
        items_returned=("returned_items", "sum"),
        returned_orders=("returned", "sum"),
        commercial_requests=("return_requests", "sum"),
    )
    table["returning_customers"] = (
        orders[orders["returned"]].groupby("group")["customer_id"].nunique()
    )
    table = table.fillna({"returning_customers": 0}).astype(np.int64)
    table["item_return_rate"] = _share(table["items_returned"], table["items_bought"])
    table["order_return_rate"] = _share(table["returned_orders"], table["orders"])
    intervals = [
        wilson_interval(k, n)
        for k, n in zip(table["returned_orders"], table["orders"], strict=True)
    ]
    table["order_return_rate_ci_low"] = [low for low, _ in intervals]
    table["order_return_rate_ci_high"] = [high for _, high in intervals]
    table["returns_per_customer"] = _share(table["commercial_requests"], table["customers"])
    table["returning_customer_share"] = _share(table["returning_customers"], table["customers"])
    return _ordered(table, tables, dimension)


def value_rates(tables: Tables, dimension: str) -> pd.DataFrame:
    """Returned net value over bought net value, per currency: amounts in different
    currencies are never added up (the events carry no exchange rates)."""
    orders = _grouped(tables.orders, tables.dimensions[dimension])
    table = orders.groupby(["group", "currency"], sort=False).agg(
        orders=("order_id", "size"),
        value_bought=("value_cents", "sum"),
        value_returned=("returned_cents", "sum"),
    )
    table["value_bought"] = table["value_bought"] / 100
    table["value_returned"] = (table["value_returned"] / 100).round(2)
    table["value_return_rate"] = _share(table["value_returned"], table["value_bought"])
    return _sorted_by_group(table.reset_index(), tables, dimension, "currency")


def reason_mix(tables: Tables, dimension: str) -> pd.DataFrame:
    """Share of each reason among the counted items of commercial returns."""
    lines = tables.return_lines
    lines = lines[(lines["return_type"] == COMMERCIAL) & (lines["counted"] > 0)]
    grouped = _with_group(lines, tables, dimension)
    counts = grouped.pivot_table(
        index="group", columns="reason", values="counted", aggfunc="sum", fill_value=0
    )
    counts = counts.reindex(columns=[r for r in REASONS if r in counts.columns], fill_value=0)
    if ALL in counts.index:
        counts = counts[counts.loc[ALL].sort_values(ascending=False, kind="stable").index]
    table = pd.DataFrame({"returned_items": counts.sum(axis=1)}, index=counts.index)
    for reason in counts.columns:
        table[f"{reason}_share"] = _share(counts[reason], table["returned_items"])
    return _ordered(table, tables, dimension)


def return_type_mix(tables: Tables, dimension: str) -> pd.DataFrame:
    """Return requests and items requested per return type (commercial, service,
    end-of-life); only this table counts service and end-of-life returns."""
    grouped = _with_group(tables.return_lines, tables, dimension)
    requests = grouped.pivot_table(
        index="group", columns="return_type", values="return_id", aggfunc="nunique", fill_value=0
    ).reindex(columns=list(RETURN_TYPES), fill_value=0)
    items = grouped.pivot_table(
        index="group", columns="return_type", values="requested", aggfunc="sum", fill_value=0
    ).reindex(index=requests.index, columns=list(RETURN_TYPES), fill_value=0)
    table = pd.DataFrame({"requests": requests.sum(axis=1)}, index=requests.index)
    for kind in RETURN_TYPES:
        table[f"{kind}_requests"] = requests[kind]
    for kind in RETURN_TYPES:
        table[f"{kind}_share"] = _share(requests[kind], table["requests"])
    for kind in RETURN_TYPES:
        table[f"{kind}_items"] = items[kind]
    return _ordered(table, tables, dimension)


def request_days(tables: Tables) -> pd.DataFrame:
    """Each commercial return request of a selected order, with the days since the order."""
    lines = tables.return_lines
    requests = lines[lines["return_type"] == COMMERCIAL].drop_duplicates("return_id")
    placed = tables.orders.set_index("order_id")["at"].rename("placed_at")
    requests = requests.join(placed, on="order_id")
    days = (requests["at"] - requests["placed_at"]) / DAY
    return requests[["return_id", "order_id"]].assign(days=days)


def days_to_return(tables: Tables, dimension: str) -> pd.DataFrame:
    """Days from an order to each commercial return request for it."""
    grouped = _with_group(request_days(tables), tables, dimension).groupby("group", sort=False)
    days = grouped["days"]
    table = pd.DataFrame(
        {
            "commercial_requests": days.size(),
            "days_mean": days.mean(),
            "days_p25": days.quantile(0.25),
            "days_median": days.median(),
            "days_p75": days.quantile(0.75),
            "days_p90": days.quantile(0.9),
        }
    )
    return _ordered(table, tables, dimension)


def received_condition(tables: Tables, dimension: str) -> pd.DataFrame:
    """Condition of the items received back from commercial returns (worn and damaged
    items cannot be resold at full price)."""
    types = tables.return_lines.drop_duplicates("return_id").set_index("return_id")
    received = tables.received_lines
    kind = received["return_id"].map(types["return_type"])
    received = received[kind == COMMERCIAL]
    grouped = _with_group(received, tables, dimension)
    counts = grouped.pivot_table(
        index="group", columns="condition", values="items", aggfunc="sum", fill_value=0
    ).reindex(columns=list(CONDITIONS), fill_value=0)
    table = pd.DataFrame({"received_items": counts.sum(axis=1)}, index=counts.index)
    for condition in (ItemCondition.WORN.value, ItemCondition.DAMAGED.value):
        table[f"{condition}_items"] = counts[condition]
    for condition in CONDITIONS:
        table[f"{condition}_share"] = _share(counts[condition], table["received_items"])
    return _ordered(table, tables, dimension)


def week_start(at: pd.Series) -> pd.Series:
    """The Monday (UTC) of the week of each epoch-seconds moment."""
    day = at // DAY
    return pd.to_datetime(day - (day + _EPOCH_THURSDAY) % 7, unit="D").dt.date


def weekly_trend(tables: Tables, dimension: str) -> pd.DataFrame:
    """Per group and week: the item return rate of the orders placed that week (cohort),
    and the items requested back that week over the items sold that week (flow, where
    returns after Christmas show up in January). `complete_week` is false for the partial
    weeks at either end of the period, whose ratios mislead (the charts leave them out)."""
    orders = _grouped(tables.orders, tables.dimensions[dimension])
    orders["week"] = week_start(orders["at"])
    cohort = orders.groupby(["group", "week"], sort=False).agg(
        orders=("order_id", "size"),
        items_bought=("items", "sum"),
        items_returned=("returned_items", "sum"),
    )
    lines = tables.return_lines
    lines = lines[(lines["return_type"] == COMMERCIAL) & (lines["counted"] > 0)]
    flow = _with_group(lines.assign(week=week_start(lines["at"])), tables, dimension)
    requested = flow.groupby(["group", "week"], sort=False)["counted"].sum()
    table = cohort.join(requested.rename("items_requested_that_week"), how="outer").fillna(0)
    table = table.astype(np.int64)
    table["item_return_rate"] = _share(table["items_returned"], table["items_bought"])
    table["requested_to_sold_ratio"] = _share(
        table["items_requested_that_week"], table["items_bought"]
    )
    table = table.reset_index()
    table["complete_week"] = _complete(table["week"], tables)
    return _sorted_by_group(table, tables, dimension, "week")


def _complete(weeks: pd.Series, tables: Tables) -> pd.Series:
    """Whether all seven days of a week are inside the report's period."""
    if tables.period is None:
        return pd.Series(False, index=weeks.index)
    first, last = tables.period
    return (weeks >= first) & (weeks + timedelta(days=6) <= last)
