"""Bad input gets one line and a non-zero exit, never a traceback (issue 25, deliverable 5).

Each case drives the real `returnrisk` command: an empty, wholly invalid or wrong-kind input
file, a registry path that does not exist, a corrupt pointer file, a bad `RETURNRISK_*`
setting, a damaged version at promote, an unknown score format.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from models.registry import Registry
from returnrisk.cli_errors import KNOWN_ERRORS
from tests.fixtures.events import EventFactory, write_jsonl
from tests.models.test_registry import add_version

SettingsEnv = Callable[[dict[str, str]], None]


def one_error_line(result: Result, code: int) -> str:
    """The command's only output line, an `error: ...` on stderr, after exiting with `code`."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0] in result.stderr and lines[0].startswith("error: ")
    return lines[0]


def run(cli_app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(cli_app, list(args))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Files that are no event log: empty, every line garbage, a CSV."""
    files = {"empty": "", "garbage": "not json\n{]\n\n", "csv": "order_id,amount\no-1,10\n"}
    paths = {kind: tmp_path / f"{kind}.{'csv' if kind == 'csv' else 'jsonl'}" for kind in files}
    for kind, text in files.items():
        paths[kind].write_text(text)
    return paths


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """A registry with two intact versions (made the way `train` publishes them)."""
    store = Registry(tmp_path / "registry")
    for month in (1, 2):
        add_version(store, datetime(2025, month, 1, tzinfo=UTC))
    return store


# input files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["empty", "garbage", "csv"])
def test_features_build_refuses_a_file_without_events(
    cli_app: typer.Typer, inputs: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    out = tmp_path / "table.parquet"
    line = one_error_line(
        run(cli_app, "features", "build", "--events", str(inputs[kind]), "--out", str(out)), 2
    )
    assert str(inputs[kind]) in line
    assert ("empty" in line) if kind == "empty" else ("line 1:" in line and "none of its" in line)
    assert not out.exists()


def test_features_build_refuses_a_log_without_orders(
    cli_app: typer.Typer, event_factory: EventFactory, tmp_path: Path
) -> None:
    log = write_jsonl(tmp_path / "touches.jsonl", [event_factory.campaign_touch()])
    out = tmp_path / "table.parquet"
    line = one_error_line(
        run(cli_app, "features", "build", "--events", str(log), "--out", str(out)), 2
    )
    assert str(log) in line and "none of its 1 events is an order" in line
    assert not out.exists()


def test_report_on_a_csv_says_every_line_was_invalid(
    cli_app: typer.Typer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = run(cli_app, "report", "--events", str(inputs["csv"]), "--out", str(out))
    line = one_error_line(result, 2)
    assert str(inputs["csv"]) in line and "none of its 2 lines is a valid event" in line
    assert "no order is in the period" not in line


@pytest.mark.parametrize("kind", ["empty", "csv"])
def test_train_refuses_a_log_without_events(
    cli_app: typer.Typer, inputs: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    registry = tmp_path / "new-registry"
    result = run(cli_app, "train", "--events", str(inputs[kind]), "--registry", str(registry))
    assert str(inputs[kind]) in one_error_line(result, 2)
    assert not (registry / "versions").exists()


def test_train_refuses_a_dataset_of_another_kind(
    cli_app: typer.Typer, inputs: dict[str, Path], tmp_path: Path
) -> None:
    result = run(
        cli_app, "train", "--dataset", str(inputs["csv"]), "--registry", str(tmp_path / "r")
    )
    line = one_error_line(result, 2)
    assert str(inputs["csv"]) in line and "parquet" in line


@pytest.mark.parametrize("kind", ["empty", "garbage", "csv"])
def test_produce_refuses_a_file_without_events_before_connecting(
    cli_app: typer.Typer, inputs: dict[str, Path], settings_env: SettingsEnv, kind: str
) -> None:
    settings_env({"RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})  # never reached
    line = one_error_line(run(cli_app, "produce", "--events", str(inputs[kind])), 2)
    assert str(inputs[kind]) in line and ("empty" in line or "line 1:" in line)


def test_produce_include_invalid_still_refuses_an_empty_file(
    cli_app: typer.Typer, inputs: dict[str, Path]
) -> None:
    result = run(cli_app, "produce", "--events", str(inputs["empty"]), "--include-invalid")
    assert str(inputs["empty"]) in one_error_line(result, 2)


def test_train_names_the_dataset_that_is_no_training_table(
    cli_app: typer.Typer, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1]}), other)
    result = run(cli_app, "train", "--dataset", str(other), "--registry", str(tmp_path / "r"))
    assert one_error_line(result, 2).startswith(f"error: {other}: ")


def test_a_folder_that_cannot_be_created_is_one_line_naming_it(
    cli_app: typer.Typer, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "schemas"
    line = one_error_line(run(cli_app, "schemas", "export", str(target)), 1)
    assert str(tmp_path / "file") in line


def test_a_missing_input_file_is_one_line_naming_the_option(
    cli_app: typer.Typer, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.jsonl"
    result = run(cli_app, "features", "build", "--events", str(missing), "--out", "x.parquet")
    line = one_error_line(result, 2)
    assert "'--events'" in line and str(missing) in line and "does not exist" in line


# the registry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["models", "list"],
        ["models", "show", "latest"],
        ["models", "promote", "latest"],
        ["models", "rollback"],
        ["score", "--model", "latest", "--dataset", "{dataset}", "--out", "{out}"],
    ],
)
def test_a_registry_path_that_does_not_exist_is_an_error(
    cli_app: typer.Typer, inputs: dict[str, Path], command: list[str], tmp_path: Path
) -> None:
    typo = tmp_path / "registyr"
    args = [a.format(dataset=inputs["csv"], out=tmp_path / "scores.parquet") for a in command]
    line = one_error_line(run(cli_app, *args, "--registry", str(typo)), 2)
    assert "'--registry'" in line and str(typo) in line and "does not exist" in line
    assert not typo.exists()


@pytest.mark.parametrize("content", ["{not json", '["a", "list"]', '{"version": "x"}', "\xff\xfe"])
def test_a_corrupt_pointer_file_is_one_line_naming_it(
    cli_app: typer.Typer, registry: Registry, content: str
) -> None:
    registry.pointer_path.write_bytes(content.encode("latin-1"))
    for command in (["models", "list"], ["models", "show", "promoted"], ["models", "rollback"]):
        result = run(cli_app, *command, "--registry", str(registry.root))
        line = one_error_line(result, 1)
        assert str(registry.pointer_path) in line and "corrupt pointer file" in line


def test_a_corrupt_manifest_is_one_line_naming_it(cli_app: typer.Typer, registry: Registry) -> None:
    manifest = registry.path("latest") / "manifest.json"
    manifest.chmod(0o644)
    manifest.write_text("{")
    line = one_error_line(run(cli_app, "models", "list", "--registry", str(registry.root)), 1)
    assert str(manifest) in line and "corrupt manifest" in line


def test_promote_refuses_a_version_whose_files_fail_their_checksums(
    cli_app: typer.Typer, registry: Registry
) -> None:
    first, second = (v.version for v in registry.list_versions())
    assert run(cli_app, "models", "promote", first, "--registry", str(registry.root)).exit_code == 0
    model = registry.path(second) / "models" / "global.txt"
    model.chmod(0o644)
    model.write_text("tampered")

    result = run(cli_app, "models", "promote", second, "--registry", str(registry.root))
    line = one_error_line(result, 1)
    assert second in line and "models/global.txt" in line and "checksum" in line
    pointer = registry.read_pointer()
    assert pointer is not None and pointer.version == first


def test_rollback_refuses_a_damaged_earlier_version(
    cli_app: typer.Typer, registry: Registry
) -> None:
    first, second = (v.version for v in registry.list_versions())
    registry.promote(first)
    registry.promote(second)
    model = registry.path(first) / "models" / "global.txt"
    model.chmod(0o644)
    model.write_text("tampered")

    line = one_error_line(run(cli_app, "models", "rollback", "--registry", str(registry.root)), 1)
    assert first in line and "models/global.txt" in line
    pointer = registry.read_pointer()
    assert pointer is not None and pointer.version == second


def test_score_refuses_an_unknown_extension_before_scoring(
    cli_app: typer.Typer, tmp_path: Path
) -> None:
    out = tmp_path / "scores.txt"
    result = run(
        cli_app, "score", "--model", str(tmp_path), "--dataset", __file__, "--out", str(out)
    )
    line = one_error_line(result, 2)
    assert str(out) in line and "'.txt'" in line and ".csv" in line
    assert not out.exists()


# settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RETURNRISK_WORKER_BATCH_SIZE", "abc", "valid integer"),
        ("RETURNRISK_REDIS_URL", "localhost:6379", "redis://, rediss:// or unix://"),
        ("RETURNRISK_WORKER_LOGLEVEL", "verbose", "'debug'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    cli_app: typer.Typer, settings_env: SettingsEnv, variable: str, value: str, expected: str
) -> None:
    settings_env({variable: value})
    line = one_error_line(run(cli_app, "config"), 2)
    assert f"{variable}={value!r}" in line and expected in line


def test_a_bad_setting_read_by_another_command_is_one_line(
    cli_app: typer.Typer, settings_env: SettingsEnv, event_factory: EventFactory, tmp_path: Path
) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", [event_factory.order()])
    settings_env({"RETURNRISK_REDIS_URL": "localhost:6379"})
    line = one_error_line(run(cli_app, "features", "parity", "--events", str(log)), 2)
    assert "RETURNRISK_REDIS_URL='localhost:6379'" in line


def test_an_unreachable_redis_is_one_line_naming_its_address(
    cli_app: typer.Typer, settings_env: SettingsEnv, event_factory: EventFactory, tmp_path: Path
) -> None:
    from tests.fixtures.infra import free_port

    log = write_jsonl(tmp_path / "log.jsonl", [event_factory.order()])
    port = free_port()
    settings_env({"RETURNRISK_REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    line = one_error_line(run(cli_app, "features", "parity", "--events", str(log)), 1)
    assert f"127.0.0.1:{port}" in line


def test_a_bad_secret_setting_is_named_without_its_secret(
    cli_app: typer.Typer, settings_env: SettingsEnv
) -> None:
    settings_env({"RETURNRISK_REDIS_URL": "http://user:hunter2@cache:6379/0"})
    line = one_error_line(run(cli_app, "config"), 2)
    assert "RETURNRISK_REDIS_URL=" in line and "hunter2" not in line and "cache:6379" in line


def test_from_the_shell_a_bad_setting_is_one_line_on_stderr(tmp_path: Path) -> None:
    environment = {"RETURNRISK_WORKER_BATCH_SIZE": "abc", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "returnrisk", "config"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=environment,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: RETURNRISK_WORKER_BATCH_SIZE='abc': Input should be a valid integer, unable to "
        "parse string as an integer"
    ]


# the handler itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KNOWN_ERRORS))
def test_every_known_error_names_an_exception_class(name: str) -> None:
    module, _, cls = name.rpartition(".")
    found = getattr(importlib.import_module(module), cls)
    assert isinstance(found, type) and issubclass(found, Exception)


def test_a_bug_still_shows_its_traceback(
    cli_app: typer.Typer, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(self: Registry) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(Registry, "list_versions", bug)
    result = run(cli_app, "models", "list", "--registry", str(registry.root))
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)


def test_a_score_format_writes_what_its_extension_names(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from models.offline import REASON_TYPE, write_scores

    reasons = [[{"code": "c", "text": "t", "contribution": 0.5}]]
    scores = pa.table(
        {
            "order_id": ["o-1"],
            "occurred_at": pa.array([datetime(2025, 1, 1, tzinfo=UTC)], pa.timestamp("ms", "UTC")),
            "probability": [0.25],
            "reasons": pa.array(reasons, REASON_TYPE),
        }
    )
    for suffix in (".parquet", ".csv", ".jsonl"):
        write_scores(scores, tmp_path / f"scores{suffix}")
    assert pq.read_table(tmp_path / "scores.parquet").equals(scores)
    csv = pa_csv.read_csv(tmp_path / "scores.csv")
    assert csv.column("probability").to_pylist() == [0.25]
    assert json.loads(csv.column("reasons")[0].as_py()) == reasons[0]
    (row,) = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert row["reasons"] == reasons[0] and row["occurred_at"] == "2025-01-01T00:00:00+00:00"
