"""What the import writes: valid, canonical events in time order, the same bytes every time
and from every file format, and returns matched by the documented rule."""

from __future__ import annotations

import gzip
import shutil
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.replay import read_log
from schemas.codec import decode_event, encode_event
from tests.ingest.helpers import SAMPLE, Importer, write_rows


def test_every_line_is_a_canonical_event_the_replay_reads(import_files: Importer) -> None:
    summary, events, log, _ = import_files(SAMPLE)
    lines = log.read_bytes().splitlines()
    assert all(encode_event(decode_event(line)) == line for line in lines)
    replayed, invalid = read_log(log)
    assert not invalid and len(replayed) == summary.events == len(lines)
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in events}) == len(events)


def test_same_bytes_every_run_and_from_gzip_and_parquet(
    import_files: Importer, tmp_path: Path
) -> None:
    first = import_files(SAMPLE)[2].read_bytes()
    assert import_files(SAMPLE)[2].read_bytes() == first
    gz = tmp_path / "sample.csv.gz"
    with SAMPLE.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert import_files(gz)[2].read_bytes() == first
    # Parquet with typed columns: timestamps, integer customers (null for none), float prices.
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    typed = pa.table(
        {
            "InvoiceNo": frame["InvoiceNo"],
            "StockCode": frame["StockCode"],
            "Quantity": pd.to_numeric(frame["Quantity"]).astype("int64"),
            "InvoiceDate": pd.to_datetime(frame["InvoiceDate"]),
            "UnitPrice": pd.to_numeric(frame["UnitPrice"]).astype("float64"),
            "CustomerID": pd.to_numeric(frame["CustomerID"]).astype("Int64"),
            "Country": frame["Country"],
        }
    )
    parquet = tmp_path / "sample.parquet"
    pq.write_table(typed, parquet, row_group_size=100)
    assert import_files(parquet)[2].read_bytes() == first


def test_order_carries_lines_prices_and_mapped_country(import_files: Importer) -> None:
    _, events, _, _ = import_files(SAMPLE)
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    order = next(e for e in events if e["event_type"] == "order_placed")
    rows = frame[frame["InvoiceNo"] == order["order_id"]]
    assert [line["sku"] for line in order["lines"]] == rows["StockCode"].tolist()
    assert [Decimal(line["unit_price"]) for line in order["lines"]] == [
        Decimal(p) for p in rows["UnitPrice"]
    ]
    assert [line["quantity"] for line in order["lines"]] == [int(q) for q in rows["Quantity"]]
    assert order["currency"] == "GBP" and order["channel"] == "web"
    assert order["shipping_country"] == {"United Kingdom": "GB"}.get(
        rows["Country"].iloc[0], order["shipping_country"]
    )
    assert order["customer_id"] == rows["CustomerID"].iloc[0]


def _at(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["occurred_at"]))


def test_a_credit_takes_back_the_most_recent_earlier_order_of_the_product(
    import_files: Importer, tmp_path: Path
) -> None:
    rows = [
        "100,11111,A,5,2010-01-04 10:00:00,1.5,7,United Kingdom",
        "101,11111,A,3,2010-01-05 10:00:00,1.5,7,United Kingdom",
        "102,22222,B,2,2010-01-06 10:00:00,2,7,United Kingdom",
        "103,11111,A,9,2010-01-06 10:00:00,1.5,8,France",  # another customer's order
        "C200,11111,A,-4,2010-01-07 09:00:00,1.5,7,United Kingdom",  # -> 101, capped at 3
        "C200,22222,B,-1,2010-01-07 09:00:00,2,7,United Kingdom",  # -> 102
        "104,33333,C,1,2010-01-08 10:00:00,3,7,United Kingdom",
        "C201,33333,C,-1,2010-01-08 10:00:00,3,7,United Kingdom",  # same second: no match
        "C202,44444,D,-1,2010-01-09 10:00:00,3,7,United Kingdom",  # never bought: no match
    ]
    summary, events, _, rejects = import_files(write_rows(tmp_path / "t.csv", *rows))
    returns = [e for e in events if e["event_type"] == "return_requested"]
    assert [(r["return_id"], r["order_id"]) for r in returns] == [
        ("C200:101", "101"),
        ("C200:102", "102"),
    ]
    assert returns[0]["lines"] == [{"sku": "11111", "quantity": 3, "reason_code": "other"}]
    assert returns[0]["return_type"] == "commercial" and returns[0]["customer_id"] == "7"
    orders = {e["order_id"]: e for e in events if e["event_type"] == "order_placed"}
    assert all(_at(orders[r["order_id"]]) < _at(r) for r in returns)
    assert orders["103"]["shipping_country"] == "FR"
    assert summary.capped_return_lines == 1
    assert rejects.read_text().splitlines()[1:] == [
        f"{tmp_path / 't.csv'},8,credit with no earlier purchase,33333",
        f"{tmp_path / 't.csv'},9,credit with no earlier purchase,44444",
    ]


def test_local_times_become_utc_with_summer_time(import_files: Importer, tmp_path: Path) -> None:
    rows = [
        "100,11111,A,1,2010-01-04 10:00:00,1,7,United Kingdom",
        "101,11111,A,1,2010-07-01 10:00:00,1,7,United Kingdom",
    ]
    _, events, _, _ = import_files(write_rows(tmp_path / "t.csv", *rows))
    assert [e["occurred_at"] for e in events] == ["2010-01-04T10:00:00Z", "2010-07-01T09:00:00Z"]
