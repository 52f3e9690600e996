"""Which channels and campaigns bring in orders that come back, with honest statistics.

Each order is attributed to its last touch (`analytics.attribution`). For every channel,
campaign, and campaign within a segment, its orders are compared with the orders that had
no touch in the window, stratum by stratum (`STRATA`: week, segment, customer type, loyalty
tier; pooled in `analytics.stats`): seasons and customer mix differ between campaigns, and a
plain comparison would credit a Black Friday campaign with the gift season's returns, or an
app campaign with its younger, lower-tier audience.

Only groups with at least `MIN_TESTED_ORDERS` comparable orders are tested; smaller ones are
shown with their numbers but never flagged. All tested rows of the three tables form one
Benjamini-Hochberg family, and a row is flagged when its adjusted one-sided p-value is at
most `FDR` - that is, its orders come back significantly more often than comparable
untouched orders. Nothing else is flagged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.dataset import Tables
from analytics.rates import week_start
from analytics.segmentation import CUSTOMER_TYPE, SEGMENT
from analytics.stats import benjamini_hochberg, clustered_lift, wilson_interval

logger = logging.getLogger(__name__)

MIN_TESTED_ORDERS = 50
FDR = 0.05
NO_TOUCH = "(no touch)"

STRATA = ("week", SEGMENT, CUSTOMER_TYPE, "loyalty_tier")
"""Untouched orders are compared within the same week (UTC, from Monday), segment, customer
type and loyalty tier: seasons change return rates, and so does who orders (higher tiers
order more often on their own and return less, so untouched orders lean towards them)."""


@dataclass(frozen=True)
class MarketingTables:
    channels: pd.DataFrame
    campaigns: pd.DataFrame
    campaign_segments: pd.DataFrame

    def flagged(self) -> pd.DataFrame:
        """Every flagged row of the three tables, with the table it comes from."""
        columns = [
            *("name", SEGMENT, "channel", "orders", "return_rate", "comparable_no_touch_rate"),
            *("lift", "lift_low", "lift_high", "q_value"),
        ]
        levels = {
            "channel": self.channels,
            "campaign": self.campaigns,
            "campaign_in_segment": self.campaign_segments,
        }
        frames = [
            frame.loc[frame["flagged"]].reindex(columns=columns).assign(level=level)
            for level, frame in levels.items()
        ]
        flagged = pd.concat(frames, ignore_index=True)
        return flagged[["level", *columns]]


def _orders(tables: Tables) -> pd.DataFrame:
    columns = ["order_id", "customer_id", "at", "touch_channel", "touch_campaign", "returned"]
    orders = tables.orders[[*columns, *STRATA[1:]]].reset_index(drop=True)
    return orders.assign(week=week_start(orders["at"]))


def _lift_rows(orders: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per value of `keys` among touched orders, against untouched orders of the same
    strata (`orders` indexed 0..n-1)."""
    stratum = orders.groupby(list(STRATA), sort=False).ngroup().to_numpy()
    customer = pd.factorize(orders["customer_id"])[0]
    returned = orders["returned"].to_numpy(dtype=np.float64)
    untouched = np.flatnonzero(orders["touch_campaign"].isna().to_numpy())
    touched = orders[orders["touch_campaign"].notna()]
    channels = touched.groupby([*keys, "touch_channel"]).size().sort_values(ascending=False)
    main_channel = channels.reset_index().drop_duplicates(keys).set_index(keys)["touch_channel"]
    rows = []
    for key, positions in sorted(touched.groupby(keys).indices.items()):
        exposed = touched.index.to_numpy()[positions]
        reference = untouched[np.isin(stratum[untouched], stratum[exposed])]
        both = np.concatenate([exposed, reference])
        is_exposed = np.concatenate([np.ones(len(exposed)), np.zeros(len(reference))])
        result = clustered_lift(stratum[both], is_exposed, returned[both], customer[both])
        came_back, total = int(returned[exposed].sum()), len(exposed)
        low, high = wilson_interval(came_back, total)
        values = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(keys, values, strict=True)),
                "channel": main_channel.loc[key],
                "orders": total,
                "returned_orders": came_back,
                "return_rate": came_back / total,
                "return_rate_ci_low": low,
                "return_rate_ci_high": high,
                "comparable_orders": result.matched,
                "comparable_no_touch_rate": result.expected_rate,
                "lift": result.lift,
                "lift_low": result.low,
                "lift_high": result.high,
                "design_effect": result.design_effect,
                "p_value": result.p_value,
            }
        )
    return pd.DataFrame(rows)


def _no_touch_row(orders: pd.DataFrame) -> dict[str, object]:
    untouched = orders[orders["touch_campaign"].isna()]
    returned, total = int(untouched["returned"].sum()), len(untouched)
    low, high = wilson_interval(returned, total)
    return {
        "name": NO_TOUCH,
        "orders": total,
        "returned_orders": returned,
        "return_rate": returned / total if total else np.nan,
        "return_rate_ci_low": low,
        "return_rate_ci_high": high,
    }


def marketing_tables(tables: Tables) -> MarketingTables:
    """Channel, campaign and campaign-within-segment lift tables, tested and flagged."""
    orders = _orders(tables)
    channels = _lift_rows(orders.assign(name=orders["touch_channel"]), ["name"])
    campaigns = _lift_rows(orders.assign(name=orders["touch_campaign"]), ["name"])
    within = _lift_rows(orders.assign(name=orders["touch_campaign"]), ["name", SEGMENT])
    frames = [_with_flags_columns(frame) for frame in (channels, campaigns, within)]
    _flag(frames)
    channels, campaigns, within = frames
    no_touch = pd.DataFrame([_no_touch_row(orders)])
    channels = pd.concat([no_touch, channels], ignore_index=True)
    campaigns = pd.concat([no_touch, campaigns], ignore_index=True)
    return MarketingTables(
        _columns(channels, with_segment=False),
        _columns(campaigns, with_segment=False),
        _columns(within, with_segment=True),
    )


def _with_flags_columns(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame.assign(
        tested=frame["comparable_orders"] >= MIN_TESTED_ORDERS, q_value=np.nan, flagged=False
    )


def _flag(frames: list[pd.DataFrame]) -> None:
    """One Benjamini-Hochberg family over every tested row of every table."""
    tested = [
        frame["p_value"].where(frame["tested"]).to_numpy()
        if not frame.empty
        else np.array([], dtype=np.float64)
        for frame in frames
    ]
    adjusted = benjamini_hochberg(np.concatenate(tested))
    start = 0
    for frame, p in zip(frames, tested, strict=True):
        if frame.empty:
            continue
        q = adjusted[start : start + len(p)]
        start += len(p)
        frame["q_value"] = q
        frame["flagged"] = (q <= FDR) & (frame["lift"] > 1)


COLUMNS = (
    "name",
    SEGMENT,
    "channel",
    "orders",
    "returned_orders",
    "return_rate",
    "return_rate_ci_low",
    "return_rate_ci_high",
    "comparable_orders",
    "comparable_no_touch_rate",
    "lift",
    "lift_low",
    "lift_high",
    "design_effect",
    "p_value",
    "tested",
    "q_value",
    "flagged",
)


def _columns(frame: pd.DataFrame, with_segment: bool) -> pd.DataFrame:
    columns = [c for c in COLUMNS if with_segment or c != SEGMENT]
    frame = frame.reindex(columns=columns)
    counts = ["orders", "returned_orders", "comparable_orders"]
    frame[counts] = frame[counts].astype("Int64")
    for column in ("tested", "flagged"):  # the no-touch row is neither
        frame[column] = frame[column].astype("boolean").fillna(False).astype(bool)
    return frame
