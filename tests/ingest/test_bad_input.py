"""Bad rows go to the rejects file with their row number and the import goes on; bad files
stop it with one `error:` line naming the file and the problem, exit 2, nothing written."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ingest.errors import MappingError
from ingest.mapping import load_mapping
from tests.ingest.helpers import SAMPLE, Importer, write_rows


def _rejects(path: Path) -> list[tuple[int, str]]:
    with path.open() as f:
        return [(int(r["row"]), r["reason"]) for r in csv.DictReader(f)]


def test_bad_rows_are_rejected_with_their_row_numbers(
    import_files: Importer, tmp_path: Path
) -> None:
    good = "100,11111,A,5,2010-01-04 10:00:00,1.5,7,United Kingdom"
    rows = [
        good,
        "101,11111,A,5,yesterday,1.5,7,United Kingdom",
        "102,11111,A,five,2010-01-04 10:00:00,1.5,7,United Kingdom",
        ",11111,A,5,2010-01-04 10:00:00,1.5,7,United Kingdom",
        "103,11111,A,5,2010-01-04 10:00:00,1.5,7,United Kingdom,extra",
        "104,11111,A,5,2010-01-04 10:00:00,-1,7,United Kingdom",
        "105,11111,A,5,2010-03-28 01:30:00,1,7,United Kingdom",  # clocks go forward at 01:00
        "106,11111,A,2000000,2010-01-04 10:00:00,1,7,United Kingdom",
        "107,11111,A,5,2010-01-04 10:00:00,1.23456,7,United Kingdom",
        "108,POST,postage,1,2010-01-04 10:00:00,18,7,United Kingdom",
        "109,11111,A,5,2010-01-04 10:00:00,1.5,,United Kingdom",
        good.replace("100,", "110,"),
    ]
    summary, events, _, rejects = import_files(write_rows(tmp_path / "t.csv", *rows))
    assert [e["order_id"] for e in events] == ["100", "110"]
    assert _rejects(rejects) == [
        (2, "unparseable timestamp"),
        (3, "non-numeric quantity"),
        (4, "missing order id"),
        (5, "malformed row"),
        (6, "negative unit price"),
        (7, "nonexistent or ambiguous local time"),
        (8, "quantity out of range"),
        (9, "unit price with more than 4 decimals"),
    ]
    assert summary.rows_read == 12
    assert dict(summary.excluded) == {"non-product code": 1, "no customer": 1}
    assert sum(summary.rejected.values()) == 8


def test_rows_keep_their_numbers_past_a_malformed_row(
    import_files: Importer, tmp_path: Path
) -> None:
    lines = SAMPLE.read_text().splitlines()
    clean = _rejects(import_files(SAMPLE)[3])
    broken = tmp_path / "broken.csv"
    lines[3] = lines[3] + ",an extra field"  # data row 3
    broken.write_text("\n".join(lines) + "\n")
    assert _rejects(import_files(broken)[3]) == sorted([(3, "malformed row"), *clean])


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    truncated = tmp_path / "truncated.csv.gz"
    big = "\n".join([SAMPLE.read_text()] + SAMPLE.read_text().splitlines()[1:] * 400)
    truncated.write_bytes(gzip.compress(big.encode())[:-5000])
    text = tmp_path / "notes.txt"
    text.write_text("Dear team,\nplease find the export attached.\n")
    wrong = write_rows(tmp_path / "wrong.csv")
    wrong.write_text("order,sku,qty\n1,2,3\n")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    return {
        "truncated gzip": (truncated, "the file ends early (a truncated gzip stream)"),
        "text file": (text, "missing columns InvoiceNo, CustomerID"),
        "wrong columns": (wrong, "(its columns: 'order', 'sku', 'qty')"),
        "binary": (binary, "not a CSV, gzip CSV or Parquet file"),
    }


@pytest.mark.parametrize("kind", ["truncated gzip", "text file", "wrong columns", "binary"])
def test_a_bad_file_gives_one_error_line(
    cli_app: typer.Typer, bad_files: dict[str, tuple[Path, str]], kind: str, tmp_path: Path
) -> None:
    path, problem = bad_files[kind]
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(cli_app, ["import", str(SAMPLE), str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.output
    assert problem in lines[0]
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_the_command_prints_a_summary(cli_app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(cli_app, ["import", str(SAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for label in ("rows read", "orders", "return requests", "customers", "excluded: no customer",
                  "rejected: credit with no earlier purchase"):  # fmt: skip
        assert label in result.stdout
    assert (tmp_path / "rejects.csv").exists() and out.exists()


def test_to_broker_sends_the_written_log(
    cli_app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from producer import send
    from producer.report import ProduceReport

    sent: list[bytes] = []

    def fake_produce(path: Path, *args: object, **kwargs: object) -> ProduceReport:
        sent.append(path.read_bytes())
        return ProduceReport()

    monkeypatch.setattr(send, "produce_file", fake_produce)
    out = tmp_path / "events.jsonl"
    args = ["import", str(SAMPLE), "--out", str(out), "--to-broker"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert sent == [out.read_bytes()]


def test_mapping_errors_name_the_file_and_field(tmp_path: Path) -> None:
    assert load_mapping("online_retail_ii").name == "online_retail_ii"
    with pytest.raises(MappingError, match="nope.yaml: no such mapping file"):
        load_mapping(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncolumns: {order_id: a}\nreturns: {credit_lines: {}}\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: ") and "columns.customer_id: Field required" in message
    assert "set order_id_prefix, negative_quantity: true, or both" in message
