"""Credit lines matched to the purchases they take back.

The rule: a credit line of customer C for product P, in a credit invoice at time T, takes back
C's most recent order placed strictly before T that has P on it (by order time; among orders
at the same second, the one later in the file). Its quantity is capped at the units of P on
that order, so a return never takes back more than was bought there; the capped lines are
counted. A credit line with no such order is unmatched: it goes to the rejects file and no
order is invented for it.

Each (credit invoice, matched order) pair is one return request; its lines are the credited
products, one line per product (units summed, the first line's reason).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingest.rows import Reject

UNMATCHED = "credit with no earlier purchase"


def match_credits(
    sales: pd.DataFrame, credits: pd.DataFrame
) -> tuple[pd.DataFrame, list[Reject], int]:
    """(return lines, rejects for unmatched credit lines, count of capped return lines).

    Return lines have: return invoice `order_id`, `matched` order id, `customer_id`,
    `product_id`, `sku`, `quantity` (capped), `reason`, `at` (the credit invoice's time),
    `first` (position of the credit invoice's first line), `file` and `row` of its first line.
    """
    bought = (
        sales.groupby(["customer_id", "product_id", "order_id"], sort=False)
        .agg(at=("at", "first"), first=("first", "first"), ordered=("quantity", "sum"))
        .reset_index()
        .rename(columns={"order_id": "matched"})
        .sort_values(["at", "first"], kind="stable")
    )
    left = credits.sort_values(["at", "first"], kind="stable")
    merged = pd.merge_asof(
        left,
        bought[["at", "customer_id", "product_id", "matched", "ordered"]],
        on="at",
        by=["customer_id", "product_id"],
        allow_exact_matches=False,
        direction="backward",
    )
    unmatched = merged[merged["matched"].isna()].sort_values(["file", "row"])
    rejects = [
        Reject(int(f), int(r), UNMATCHED, str(p))
        for f, r, p in zip(
            unmatched["file"], unmatched["row"], unmatched["product_id"], strict=True
        )
    ]
    matched = merged[merged["matched"].notna()].sort_values(["file", "row"], kind="stable")
    lines = (
        matched.groupby(["order_id", "matched", "product_id"], sort=False)
        .agg(
            customer_id=("customer_id", "first"),
            sku=("sku", "first"),
            quantity=("quantity", "sum"),
            ordered=("ordered", "first"),
            reason=("reason", "first"),
            at=("at", "first"),
            first=("first", "first"),
            file=("file", "first"),
            row=("row", "first"),
        )
        .reset_index()
    )
    capped = lines["quantity"] > lines["ordered"]
    lines["quantity"] = np.minimum(lines["quantity"], lines["ordered"]).astype(np.int64)
    return lines.drop(columns=["ordered"]), rejects, int(capped.sum())
