"""What each offer rule changes, measured against its random holdout (`report --offers`).

Every offer rule holds out a share of customers, chosen by a hash of customer and rule: they
are not made the offer, but an `Offer` record with `held_out: true` still says what they
would have been offered. Treated and held-out orders of a rule are therefore a randomised
comparison, and a plain difference of means estimates the offer's effect.

The unit is the offer's order (an offer record counted once per `offer_id`, however often
it was delivered; an order counted once per rule, from its first offer). Only orders among
the report's orders (its period and `--filter`) are measured. For each rule, treated
against held-out orders: the return rate and the returned value after the offer, with the
analytics' own definition of returned items and their value (`analytics.dataset`), and
the repurchase rate within `REPURCHASE_DAYS`. The difference of each comes with a 95 %
interval and a two-sided p-value that allow for one customer's orders being alike
(`analytics.stats.clustered_difference`); the p-values of every rule and metric are adjusted
together with Benjamini-Hochberg, and a rule is flagged for a metric when its adjusted value
is below `FDR` and both groups have at least `MIN_GROUP_ORDERS` orders.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics.dataset import Tables
from analytics.marketing import FDR
from analytics.rates import COMMERCIAL
from analytics.stats import benjamini_hochberg, clustered_difference, wilson_interval
from features.units import DAY, epoch
from schemas import InputEvent, OrderPlaced, ReturnRequested
from schemas.offer_log import REPURCHASE_DAYS
from schemas.outputs import Offer

logger = logging.getLogger(__name__)

MIN_GROUP_ORDERS = 30
"""A rule is tested for a metric only when its treated and its held-out group each have at
least this many orders measured: below that the customer design effect (a ratio of variances
from a few customers) and the t approximation of the test are unreliable. Smaller groups are
shown, never flagged."""
MIN_GROUP_OUTCOMES = 5
"""...and each group has at least this many orders with the outcome (returned, repurchased,
some value back) and as many without: the normal approximation behind the interval needs
n*p and n*(1-p) of 5 or more (the textbook rule). Below it, a group of a few dozen orders
with one odd order out makes a p-value far smaller than it is (seen on simulated
holdouts with nothing planted: 46 held-out orders, all but one returned)."""
GROUPS = (("treated", False), ("held_out", True))
"""Column prefix and `held_out` value of the two groups compared."""


@dataclass(frozen=True)
class LogOrders:
    """What the offers need from the log beyond the report's tables: every order (a repeat
    purchase may fall outside the report's period or filter) and the order each order and
    return request event is about (for records without `order_id`)."""

    orders: pd.DataFrame
    """order_id, customer_id, at (epoch seconds): each order of the log once."""
    event_orders: dict[str, str]

    @classmethod
    def from_events(cls, events: Sequence[InputEvent]) -> LogOrders:
        records: dict[str, tuple[str, str, int]] = {}
        event_orders = {}
        for event in events:
            if isinstance(event, OrderPlaced | ReturnRequested):
                event_orders[event.event_id] = event.order_id
            if isinstance(event, OrderPlaced) and event.order_id not in records:
                records[event.order_id] = (
                    event.order_id,
                    event.customer_id,
                    epoch(event.occurred_at),
                )
        orders = pd.DataFrame.from_records(
            list(records.values()), columns=["order_id", "customer_id", "at"]
        )
        return cls(orders.astype({"at": "int64"}), event_orders)


@dataclass
class OfferCounts:
    """Where every offer record went; printed so nothing disappears silently."""

    records: int = 0
    duplicate_records: int = 0
    """Records whose offer_id came before (the same offer delivered again): not counted."""
    offers: int = 0
    unknown_order: int = 0
    """Offers whose order is not in the log (nor, without order_id, their source event)."""
    order_not_in_report: int = 0
    """Offers for an order of the log outside the report's period or --filter."""
    repeat_offers: int = 0
    """Further offers of the same rule for an order already measured from an earlier one."""
    measured_orders: int = 0
    """Orders measured, summed over the rules."""
    repurchase_window_past_log_end: int = 0
    """Measured orders left out of the repurchase rate only: the log ends within
    `REPURCHASE_DAYS` after their offer."""


@dataclass(frozen=True)
class Metric:
    """One outcome per measured order, compared between treated and held-out orders."""

    name: str
    """Column stem in the tables, e.g. `return_rate`."""
    title: str
    column: str
    """The per-order outcome in the units frame (NaN: not measured for that order)."""
    events: str | None = None
    """For a 0/1 outcome: the name of its count (`returned_orders`); None for a value."""


RETURN_RATE = Metric("return_rate", "Return rate after the offer", "returned", "returned_orders")
RETURNED_VALUE = Metric(
    "returned_value", "Returned value per order after the offer, per currency", "returned_value"
)
REPURCHASE = Metric(
    "repurchase_rate",
    f"Repurchase within {REPURCHASE_DAYS} days after the offer",
    "repurchased",
    "repurchased_orders",
)


@dataclass(frozen=True)
class OfferTables:
    rules: pd.DataFrame
    return_rate: pd.DataFrame
    returned_value: pd.DataFrame
    """Per rule and currency: values of different currencies are not added up."""
    repurchase: pd.DataFrame
    counts: OfferCounts = field(default_factory=OfferCounts)

    def metrics(self) -> dict[Metric, pd.DataFrame]:
        return {
            RETURN_RATE: self.return_rate,
            RETURNED_VALUE: self.returned_value,
            REPURCHASE: self.repurchase,
        }

    def flagged(self) -> pd.DataFrame:
        """Every flagged row of the three metric tables, its difference under one name."""
        difference = ["difference", "difference_ci_low", "difference_ci_high"]
        columns = ["metric", "rule", "currency", "treated_orders", "held_out_orders"]
        columns += [*difference, "q_value"]
        frames = [
            frame.loc[frame["flagged"]]
            .rename(columns={f"{metric.name}_{c}": c for c in difference})
            .assign(metric=metric.name)
            .reindex(columns=columns)
            for metric, frame in self.metrics().items()
        ]
        return pd.concat(frames, ignore_index=True)


def offer_tables(offers: Sequence[Offer], log: LogOrders, tables: Tables) -> OfferTables:
    """Per rule: its offers, and treated against held-out orders for the three metrics."""
    counts = OfferCounts(records=len(offers))
    resolved = _resolve(offers, log, counts)
    in_report = resolved["order_id"].isin(tables.orders["order_id"])
    counts.unknown_order = int((~resolved["order_id"].isin(log.orders["order_id"])).sum())
    counts.order_not_in_report = int((~in_report).sum()) - counts.unknown_order
    units = _units(resolved[in_report], tables, counts)
    units = _with_outcomes(units, tables, log)
    counts.repurchase_window_past_log_end = int(units["repurchased"].isna().sum())
    return_rate, returned_value, repurchase = adjusted_together(
        [
            compare(units, RETURN_RATE),
            compare(units, RETURNED_VALUE, by_currency=True),
            compare(units, REPURCHASE),
        ]
    )
    return OfferTables(
        rules=_rules(resolved, units),
        return_rate=return_rate,
        returned_value=returned_value,
        repurchase=repurchase,
        counts=counts,
    )


def adjusted_together(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Benjamini-Hochberg over the tested rows of every metric's table at once: one family, so
    rules that change nothing are flagged in about `FDR` of reports however many metrics are
    shown (three families at `FDR` each would flag up to three times as often)."""
    p_values = [f["p_value"].where(f["tested"]).to_numpy(np.float64) for f in frames]
    q_values = np.split(
        benjamini_hochberg(np.concatenate(p_values)), np.cumsum([len(p) for p in p_values])[:-1]
    )
    return [
        frame.assign(q_value=q, flagged=frame["tested"] & (q < FDR))
        for frame, q in zip(frames, q_values, strict=True)
    ]


def _resolve(offers: Sequence[Offer], log: LogOrders, counts: OfferCounts) -> pd.DataFrame:
    """Each offer once (the first record of an offer_id), with the order it is about."""
    records = []
    seen: set[str] = set()
    for offer in offers:
        if offer.offer_id in seen:
            counts.duplicate_records += 1
            continue
        seen.add(offer.offer_id)
        order_id = offer.order_id or log.event_orders.get(offer.source_event_id)
        records.append(
            (
                *(offer.offer_id, offer.rule, str(offer.offer_type), offer.customer_id),
                *(offer.held_out, epoch(offer.created_at), order_id),
            )
        )
    counts.offers = len(records)
    columns = ["offer_id", "rule", "offer_type", "customer_id", "held_out", "created_at"]
    frame = pd.DataFrame.from_records(records, columns=[*columns, "order_id"])
    return frame.astype({"held_out": bool, "created_at": "int64"})


def _units(offers: pd.DataFrame, tables: Tables, counts: OfferCounts) -> pd.DataFrame:
    """One row per rule and order, from the order's first offer of that rule."""
    first = offers.sort_values(["created_at", "offer_id"]).drop_duplicates(["rule", "order_id"])
    counts.repeat_offers = len(offers) - len(first)
    counts.measured_orders = len(first)
    currency = tables.orders.set_index("order_id")["currency"]
    return first.assign(currency=first["order_id"].map(currency)).reset_index(drop=True)


def _with_outcomes(units: pd.DataFrame, tables: Tables, log: LogOrders) -> pd.DataFrame:
    """Each unit's returns after its offer, and whether its customer ordered again."""
    unit = units.rename_axis("unit").reset_index()[
        ["unit", "order_id", "customer_id", "created_at"]
    ]
    lines = tables.return_lines
    commercial = lines.loc[lines["return_type"] == COMMERCIAL, ["order_id", "at", "counted_cents"]]
    returns = unit.merge(commercial, on="order_id")
    returns = returns[returns["at"] > returns["created_at"]]
    returned_cents = returns.groupby("unit")["counted_cents"].sum()
    window = REPURCHASE_DAYS * DAY
    later = unit.merge(log.orders, on="customer_id", suffixes=("", "_next"))
    later = later[
        (later["order_id_next"] != later["order_id"])
        & (later["at"] > later["created_at"])
        & (later["at"] <= later["created_at"] + window)
    ]
    log_end = epoch(tables.log_end) if tables.log_end else 0
    repurchased = unit["unit"].isin(later["unit"]).astype(np.float64)
    return units.assign(
        returned=unit["unit"].isin(returns["unit"]).astype(np.float64),
        returned_value=unit["unit"].map(returned_cents).fillna(0.0) / 100,
        repurchased=repurchased.where(unit["created_at"] + window <= log_end),
    )


def _rules(offers: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """Per rule: its offer types, offers, measured orders and the held-out share."""
    by_rule = units.groupby("rule")
    table = pd.DataFrame(
        {
            "offer_types": offers.groupby("rule")["offer_type"].agg(
                lambda types: ", ".join(types.value_counts().index)
            ),
            "offers": offers.groupby("rule").size(),
            "orders": by_rule.size(),
            "customers": by_rule["customer_id"].nunique(),
            "held_out_orders": by_rule["held_out"].sum(),
        }
    )
    counts = ["orders", "customers", "held_out_orders"]
    table[counts] = table[counts].fillna(0).astype("int64")
    table["held_out_share"] = table["held_out_orders"] / table["orders"].replace(0, np.nan)
    return table.rename_axis("rule").reset_index()


def compare(units: pd.DataFrame, metric: Metric, by_currency: bool = False) -> pd.DataFrame:
    """One row per rule (and currency): both groups, their difference, test and flag.

    `units` holds one row per measured order: rule, currency, customer_id, held_out and the
    metric's column. Benjamini-Hochberg here runs over this table's tested rows;
    `adjusted_together` adjusts the report's metrics as one family.
    """
    keys = ["rule", "currency"] if by_currency else ["rule"]
    rows = [
        {**dict(zip(keys, key, strict=True)), **_compare_rule(group, metric)}
        for key, group in units.groupby(keys, sort=True)
    ]
    frame = pd.DataFrame(rows, columns=[*keys, *_columns(metric)])
    q_values = benjamini_hochberg(frame["p_value"].where(frame["tested"]).to_numpy(np.float64))
    return frame.assign(
        tested=frame["tested"].astype(bool),
        q_value=q_values,
        flagged=frame["tested"].astype(bool) & (q_values < FDR),
    )[[*keys, *_columns(metric)]]


def _columns(metric: Metric) -> list[str]:
    columns = ["orders", *(["left_out_past_log_end"] if metric is REPURCHASE else [])]
    for prefix, _ in GROUPS:
        columns += [f"{prefix}_orders", f"{prefix}_customers"]
        if metric.events:
            columns += [f"{prefix}_{metric.events}", f"{prefix}_{metric.name}"]
            columns += [f"{prefix}_{metric.name}_ci_low", f"{prefix}_{metric.name}_ci_high"]
        else:
            columns.append(f"{prefix}_{metric.name}")
    difference = f"{metric.name}_difference"
    columns += [difference, f"{difference}_ci_low", f"{difference}_ci_high"]
    return [*columns, "design_effect", "p_value", "tested", "q_value", "flagged", "why_not_tested"]


def _compare_rule(units: pd.DataFrame, metric: Metric) -> dict[str, object]:
    measured = units[units[metric.column].notna()]
    values = measured[metric.column].to_numpy(np.float64)
    held_out = measured["held_out"].to_numpy(bool)
    customers = measured["customer_id"].to_numpy()
    row: dict[str, object] = {"orders": len(measured)}
    if metric is REPURCHASE:
        row["left_out_past_log_end"] = len(units) - len(measured)
    for prefix, flag in GROUPS:
        row |= _group(prefix, values[held_out == flag], customers[held_out == flag], metric)
    result = clustered_difference(values, ~held_out, customers)
    low, high = result.low, result.high
    if metric.events:  # two shares differ by at most 1 (NaN stays NaN)
        low, high = max(low, -1.0), min(high, 1.0)
    difference = f"{metric.name}_difference"
    why = _why_not_tested(values, held_out, result.p_value)
    return row | {
        difference: result.difference,
        f"{difference}_ci_low": low,
        f"{difference}_ci_high": high,
        "design_effect": result.design_effect,
        "p_value": result.p_value,
        "tested": not why,
        "why_not_tested": why,
    }


def _group(
    prefix: str, values: npt.NDArray[np.float64], customers: npt.NDArray[np.object_], metric: Metric
) -> dict[str, object]:
    """A group's orders, customers and mean (for a rate: its count and Wilson interval)."""
    n = len(values)
    row: dict[str, object] = {
        f"{prefix}_orders": n,
        f"{prefix}_customers": len(set(customers)),
        f"{prefix}_{metric.name}": float(values.mean()) if n else np.nan,
    }
    if metric.events:
        events = int(values.sum())
        low, high = wilson_interval(events, n)
        row |= {
            f"{prefix}_{metric.events}": events,
            f"{prefix}_{metric.name}_ci_low": low,
            f"{prefix}_{metric.name}_ci_high": high,
        }
    return row


def _why_not_tested(
    values: npt.NDArray[np.float64], held_out: npt.NDArray[np.bool_], p_value: float
) -> str:
    """Why a row is not tested, in words; empty when it is."""
    treated, held = int((~held_out).sum()), int(held_out.sum())
    if min(treated, held) < MIN_GROUP_ORDERS:
        return (
            f"too few orders: {treated} treated, {held} held out "
            f"(each group needs {MIN_GROUP_ORDERS})"
        )
    if np.isnan(p_value):
        return "nothing varies: every order of both groups has the same value"
    with_outcome = [int((values[held_out == side] > 0).sum()) for side in (False, True)]
    without = [treated - with_outcome[0], held - with_outcome[1]]
    if min(*with_outcome, *without) < MIN_GROUP_OUTCOMES:
        return (
            f"too few orders with and without the outcome: {with_outcome[0]} and {without[0]} "
            f"treated, {with_outcome[1]} and {without[1]} held out (each needs "
            f"{MIN_GROUP_OUTCOMES})"
        )
    return ""
