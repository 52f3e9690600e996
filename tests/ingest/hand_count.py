"""The import's counts computed by hand with pandas, independently of `ingest/`: a plain
reading of the rules in the README (no chunks, no merge_asof), for the fixture and the full
Online Retail II year."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

NON_PRODUCT = {"POST", "DOT", "C2", "C3", "M", "D", "S", "B", "ADJUST", "ADJUST2",
               "BANK CHARGES", "AMAZONFEE", "CRUK", "TEST001", "TEST002", "GIFT"}  # fmt: skip


def hand_count(path: Path) -> dict[str, Any]:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    quantity = pd.to_numeric(df["Quantity"]).astype(int)
    code = df["StockCode"]
    listed = code.str.upper().isin(NON_PRODUCT)
    outside = ~listed & ~code.str.match(r"[0-9]{5}")
    anonymous = ~listed & ~outside & (df["CustomerID"] == "")
    credit = df["InvoiceNo"].str.startswith("C")
    rest = ~(listed | outside | anonymous)
    keep = rest & (quantity != 0) & ~(~credit & (quantity < 0)) & ~(credit & (quantity > 0))
    lines = df[keep].assign(
        units=quantity[keep].abs(),
        at=pd.to_datetime(df["InvoiceDate"][keep]).dt.tz_localize("Europe/London"),
    )
    invoice_time = lines.groupby("InvoiceNo")["at"].min()
    sales, credits = lines[~credit[keep]], lines[credit[keep]]

    bought: dict[tuple[str, str], list[tuple[Any, int, str, int]]] = defaultdict(list)
    for position, (invoice, group) in enumerate(sales.groupby("InvoiceNo", sort=False)):
        for product, units in group.groupby("StockCode")["units"].sum().items():
            key = (group["CustomerID"].iloc[0], str(product))
            bought[key].append((invoice_time[invoice], position, invoice, int(units)))
    requests: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ordered: dict[tuple[str, str], int] = {}
    unmatched_rows = []
    for number, row in zip(credits.index + 1, credits.itertuples(), strict=True):
        when = invoice_time[row.InvoiceNo]
        earlier = [b for b in bought[(row.CustomerID, row.StockCode)] if b[0] < when]
        if not earlier:
            unmatched_rows.append(int(number))
            continue
        _, _, order, units = max(earlier, key=lambda b: (b[0], b[1]))
        requests[(row.InvoiceNo, order)][row.StockCode] += row.units
        ordered[(order, row.StockCode)] = units
    returned_units = sum(
        min(units, ordered[(order, product)])
        for (_, order), products in requests.items()
        for product, units in products.items()
    )
    return {
        "rows_read": len(df),
        "orders": sales["InvoiceNo"].nunique(),
        "order_lines": len(sales),
        "ordered_units": int(sales["units"].sum()),
        "return_requests": len(requests),
        "return_lines": sum(len(products) for products in requests.values()),
        "returned_units": returned_units,
        "customers": sales["CustomerID"].nunique(),
        "excluded": {
            "non-product code": int(listed.sum()),
            "code outside the product pattern": int(outside.sum()),
            "no customer": int(anonymous.sum()),
        },
        "unmatched_rows": unmatched_rows,
    }
