"""How online_retail_ii_sample.csv was cut from the shared data set (kept for provenance).

    cd tests/ingest/data && python cut_fixture.py online_retail_ii_2009_2010.csv.gz

Whole histories of a few customers with returns (so credits have their purchases), one
customer whose first invoice is a credit (an unmatched credit), two whose credits exceed
the matched order's units, lines with non-product codes
and codes outside the product pattern, lines without a customer and a bad-debt adjustment,
in the file's own order.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).with_name("online_retail_ii_sample.csv")
NON_PRODUCT = ["POST", "M", "BANK CHARGES", "DOT", "C2", "D", "ADJUST", "AMAZONFEE", "S"]
OUTSIDE_PATTERN = ["PADS", "gift_0001_30", "DCGS0058", "SP1002"]


def cut(source: Path) -> pd.DataFrame:
    df = pd.read_csv(source, dtype=str, keep_default_na=False)
    credit = df["InvoiceNo"].str.startswith("C")
    known = df[df["CustomerID"] != ""]
    invoices = known.groupby("CustomerID")["InvoiceNo"].nunique()
    lines = known.groupby("CustomerID").size()
    returners = set(known[credit[known.index]]["CustomerID"])
    small = sorted(c for c in returners if 3 <= invoices[c] <= 6 and lines[c] <= 40)
    chosen = set(small[::25][:8])
    first = known.groupby("CustomerID")["InvoiceNo"].first()
    credit_first = sorted(c for c in first.index if first[c].startswith("C") and lines[c] <= 12)
    chosen |= set(credit_first[:2])
    chosen |= {"16544", "16077"}  # credits more units than the matched order had (capped)
    pick = df["CustomerID"].isin(chosen)
    for code in NON_PRODUCT:
        pick |= df.index.isin(df[df["StockCode"] == code].index[:3])
    for code in OUTSIDE_PATTERN:
        pick |= df.index.isin(df[df["StockCode"] == code].index[:2])
    pick |= df.index.isin(df[df["CustomerID"] == ""].index[::5000][:20])
    pick |= df["InvoiceNo"].str.startswith("A")
    return df[pick]


if __name__ == "__main__":
    sample = cut(Path(sys.argv[1]))
    sample.to_csv(OUT, index=False)
    print(f"wrote {len(sample)} rows to {OUT}")
