"""Kept lines grouped into invoices (an order, or a credit invoice), each with one customer,
one currency and one time.

An invoice's time is its earliest line's; its customer, currency, channel and country are its
first line's (in file order). Lines naming another customer or currency than their invoice's
first line are rejected, and so is every line of an invoice of more than 10,000 lines (the
contract's limit): nothing is guessed.
"""

from __future__ import annotations

import pandas as pd

from ingest.rows import Reject
from schemas.common import MAX_LINES


def _rejects(frame: pd.DataFrame, reason: str, detail: pd.Series | None = None) -> list[Reject]:
    details = detail.loc[frame.index] if detail is not None else pd.Series("", index=frame.index)
    return [
        Reject(int(f), int(r), reason, str(d))
        for f, r, d in zip(frame["file"], frame["row"], details, strict=True)
    ]


def group_invoices(kept: pd.DataFrame) -> tuple[pd.DataFrame, list[Reject]]:
    """Kept lines (in file order) with `at`, their invoice's time, and `first`, their invoice's
    number in order of first lines; lines that do not fit their invoice are rejected."""
    kept = kept.reset_index(drop=True)
    keys = [kept["credit"], kept["order_id"]]
    groups = kept.groupby(keys, sort=False)
    rejects: list[Reject] = []
    first_customer = groups["customer_id"].transform("first")
    other = kept["customer_id"] != first_customer
    rejects += _rejects(kept[other], "order id shared by several customers", kept["order_id"])
    first_currency = groups["currency"].transform("first")
    mixed = (kept["currency"] != first_currency) & ~other
    rejects += _rejects(kept[mixed], "several currencies in one order", kept["currency"])
    kept = kept[~(other | mixed)].reset_index(drop=True)

    groups = kept.groupby([kept["credit"], kept["order_id"]], sort=False)
    too_long = groups["row"].transform("size") > MAX_LINES
    rejects += _rejects(
        kept[too_long], f"order with more than {MAX_LINES:,} lines", kept["order_id"]
    )
    kept = kept[~too_long].reset_index(drop=True)

    groups = kept.groupby([kept["credit"], kept["order_id"]], sort=False)
    kept["at"] = groups["ts"].transform("min")
    kept["first"] = groups.ngroup()  # invoices numbered in order of their first line
    return kept, rejects
