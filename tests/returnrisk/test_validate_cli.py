"""`returnrisk validate` checks a log without a broker; `returnrisk produce` runs the same check
and refuses a bad log before it connects (issue 21, item 3)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from tests.fixtures.bad_log import EXPECTED_KINDS, write_bad_log
from tests.fixtures.events import EventFactory, write_jsonl
from tests.fixtures.infra import free_port

SettingsEnv = Callable[[dict[str, str]], None]


@pytest.fixture
def bad_log(tmp_path: Path) -> Path:
    return write_bad_log(tmp_path / "bad.jsonl")


@pytest.fixture
def no_broker(settings_env: SettingsEnv) -> str:
    """A bootstrap address where nothing listens: any attempt to connect fails."""
    address = f"127.0.0.1:{free_port()}"
    settings_env({"RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": address})
    return address


def run(cli_app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(cli_app, list(args))


def listed_lines(output: str) -> dict[int, str]:
    """Line number -> the error kind it is listed under, from the per-kind sections."""
    found: dict[int, str] = {}
    kind = ""
    for line in output.splitlines():
        if header := re.match(r"^([a-z-]+) \(\d+ lines?(, the first \d+)?\):$", line):
            kind = header.group(1)
        elif listed := re.match(r"^  line (\d+): ", line):
            found[int(listed.group(1))] = kind
    return found


def test_validate_lists_all_twelve_bad_lines_and_exits_1(
    cli_app: typer.Typer, bad_log: Path, no_broker: str
) -> None:
    result = run(cli_app, "validate", "--events", str(bad_log))

    assert result.exit_code == 1, result.output
    assert listed_lines(result.output) == EXPECTED_KINDS
    lines = result.output.splitlines()
    assert lines[0] == (
        f"{bad_log}: 17 lines: 4 valid events, 12 bad lines, 1 blank line (skipped)"
    )
    assert re.search(r"^order_placed +1 +8$", result.output, re.M)
    assert re.search(r"^total +4 +12$", result.output, re.M)
    assert re.search(r"^not-json +2  ", result.output, re.M)
    assert "Traceback" not in result.output and "error:" not in result.output


def test_validate_a_clean_log_exits_0(cli_app: typer.Typer, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "clean.jsonl", EventFactory().mixed(10))
    result = run(cli_app, "validate", "--events", str(log))
    assert result.exit_code == 0, result.output
    assert "10 valid events, 0 bad lines" in result.output
    assert result.output.rstrip().endswith("every line is a valid event")


def test_show_bounds_the_lines_listed_per_kind(cli_app: typer.Typer, tmp_path: Path) -> None:
    log = tmp_path / "garbage.jsonl"
    log.write_text("nope\n" * 30)

    result = run(cli_app, "validate", "--events", str(log), "--show", "3")
    assert result.exit_code == 1
    assert sorted(listed_lines(result.output)) == [1, 2, 3]
    assert "not-json (30 lines, the first 3):" in result.output
    assert "... 27 more (--show 0 lists every one)" in result.output

    every = run(cli_app, "validate", "--events", str(log), "--show", "0")
    assert sorted(listed_lines(every.output)) == list(range(1, 31))


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_validate_an_empty_file_is_one_error_line_exit_2(
    cli_app: typer.Typer, tmp_path: Path, content: str
) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text(content)
    result = run(cli_app, "validate", "--events", str(log))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {log}: no line in it to check (the file is empty or blank)"
    ]


@pytest.mark.parametrize("name", ["missing.jsonl", "."])
def test_validate_a_file_it_cannot_read_is_one_error_line_exit_2(
    cli_app: typer.Typer, tmp_path: Path, name: str
) -> None:
    result = run(cli_app, "validate", "--events", str(tmp_path / name))
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: Invalid value for '--events'")


def test_produce_refuses_the_bad_log_before_connecting(
    cli_app: typer.Typer, bad_log: Path, no_broker: str
) -> None:
    started = time.monotonic()
    result = run(cli_app, "produce", "--events", str(bad_log))

    assert time.monotonic() - started < 5  # no connection attempt, no broker timeout
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"error: {bad_log}: 12 of 16 lines are not valid events, nothing was sent; "
        f"run returnrisk validate --events {bad_log} for the list"
    ]
    assert no_broker not in result.output and "Kafka" not in result.output


def test_produce_gets_past_the_check_with_a_clean_log(
    cli_app: typer.Typer, tmp_path: Path, no_broker: str
) -> None:
    """The same closed port, a valid log: now the error is the broker's, so the refusal above
    was the check's."""
    log = write_jsonl(tmp_path / "clean.jsonl", EventFactory().mixed(5))
    result = run(cli_app, "produce", "--events", str(log))
    assert result.exit_code == 1
    (line,) = [out for out in result.output.splitlines() if out.startswith("error:")]
    assert line.startswith(f"error: cannot reach Kafka at {no_broker}")
