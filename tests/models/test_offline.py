"""`returnrisk score` and the models commands, end to end through the CLI."""

from __future__ import annotations

import csv as csv_module
import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from returnrisk.cli import app
from tests.fixtures.trained_versions import SmallData, TrainedVersion


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_score_writes_the_format_its_extension_names_with_reasons(
    trained_version: TrainedVersion, small_data: SmallData, tmp_path: Path
) -> None:
    registry = str(trained_version.registry.root)
    version = trained_version.run.version
    parquet, jsonl, csv = (tmp_path / f"scores.{kind}" for kind in ("parquet", "jsonl", "csv"))
    for out in (parquet, jsonl, csv):
        code, output = run(
            "score", "--model", version, "--registry", registry,
            "--dataset", str(small_data.table_path), "--out", str(out),
        )  # fmt: skip
        assert code == 0, output
    table = pq.read_table(parquet)
    assert table.num_rows == small_data.table.num_rows
    assert {"order_id", "segment", "probability", "band", "reasons", "model_version"} <= set(
        table.column_names
    )
    assert all(len(reasons) == 3 for reasons in table.column("reasons").to_pylist())
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["probability"] for line in lines] == table.column("probability").to_pylist()
    rows = list(csv_module.DictReader(csv.open(newline="")))
    assert [float(r["probability"]) for r in rows] == table.column("probability").to_pylist()
    assert [json.loads(r["reasons"]) for r in rows] == table.column("reasons").to_pylist()


def test_score_refuses_a_dataset_of_another_feature_set(
    trained_version: TrainedVersion, small_data: SmallData, tmp_path: Path
) -> None:
    meta = dict(small_data.table.schema.metadata)
    meta[b"returnrisk.feature_set_hash"] = b"ffffffffffffffff"
    other = tmp_path / "other.parquet"
    pq.write_table(small_data.table.replace_schema_metadata(meta), other)
    code, output = run(
        "score", "--model", str(trained_version.run.path), "--dataset", str(other),
        "--out", str(tmp_path / "x.parquet"),
    )  # fmt: skip
    assert code == 2
    assert "feature_set_hash ffffffffffffffff" in output
    assert not (tmp_path / "x.parquet").exists()


def test_models_list_show_promote_rollback(trained_version: TrainedVersion) -> None:
    registry = str(trained_version.registry.root)
    version = trained_version.run.version
    code, output = run("models", "show", "--registry", registry, version)
    assert code == 0 and "intact" in output and version in output
    code, output = run("models", "promote", "--registry", registry, version)
    assert code == 0 and f"promoted {version}" in output
    code, output = run("models", "list", "--registry", registry)
    assert code == 0 and "*" in output and version in output
    code, output = run("models", "rollback", "--registry", registry)
    assert code == 2 and "no earlier promoted version" in output
    code, output = run("models", "show", "--registry", registry, "20990101T000000Z-000000")
    assert code == 2 and "no version" in output
