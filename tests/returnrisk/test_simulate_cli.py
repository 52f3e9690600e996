"""`returnrisk simulate` through typer's CliRunner: flags, environment, and clear errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from returnrisk.simulate_cli import simulate

runner = CliRunner()


def _app() -> typer.Typer:
    """The simulate command mounted the way returnrisk/cli.py mounts it."""
    app = typer.Typer()
    app.command("simulate")(simulate)
    app.command("noop")(lambda: None)  # a second command, so `simulate` stays a subcommand
    return app


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Factory: write YAML text to a file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _flat(text: str) -> str:
    """Output with rich panel borders and line wrapping removed, for substring checks."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", text)


def test_simulate_writes_the_log_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    result = runner.invoke(
        _app(), ["simulate", "--customers", "20", "--days", "60", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    text = _flat(result.output)
    assert f"events {len(lines):,}" in text
    for label in ("order_placed", "campaign_touch", "customers 20", "orders with a return"):
        assert label in text


def test_every_flag_can_come_from_the_environment(tmp_path: Path) -> None:
    by_flags, by_env = tmp_path / "flags.jsonl", tmp_path / "env.jsonl"
    flags = ["--customers", "8", "--days", "45", "--seed", "21", "--start", "2024-02-29"]
    assert runner.invoke(_app(), ["simulate", *flags, "--out", str(by_flags)]).exit_code == 0
    env = {
        "RETURNRISK_SIM_CUSTOMERS": "8",
        "RETURNRISK_SIM_DAYS": "45",
        "RETURNRISK_SIM_SEED": "21",
        "RETURNRISK_SIM_START": "2024-02-29",
        "RETURNRISK_SIM_OUT": str(by_env),
    }
    result = runner.invoke(_app(), ["simulate"], env=env)
    assert result.exit_code == 0, result.output
    assert by_env.read_bytes() == by_flags.read_bytes()
    assert by_env.read_text(encoding="utf-8").startswith('{"schema_version":1')
    assert '"occurred_at":"2024-02-29T' in by_env.read_text(encoding="utf-8")


def test_bad_config_is_a_clear_usage_error(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    config = write_config("returns: {base_log_odz: -2}\n")
    result = runner.invoke(
        _app(), ["simulate", "--out", str(tmp_path / "x.jsonl"), "--config", str(config)]
    )
    assert result.exit_code == 2
    text = _flat(result.output)
    assert "Invalid value for '--config'" in text
    assert "key 'returns.base_log_odz': unknown key" in text
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2025-13-01"], "--start"),
        (["--customers", "0"], "--customers"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    base = ["simulate", "--out", str(tmp_path / "x.jsonl"), "--customers", "2", "--days", "5"]
    result = runner.invoke(_app(), [*base, *args])
    assert result.exit_code == 2
    assert message in _flat(result.output)


def test_out_folder_is_created_and_an_impossible_one_is_a_usage_error(tmp_path: Path) -> None:
    args = ["simulate", "--customers", "2", "--days", "5"]
    out = tmp_path / "new" / "folder" / "x.jsonl"
    assert runner.invoke(_app(), [*args, "--out", str(out)]).exit_code == 0
    assert out.stat().st_size > 0
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(_app(), [*args, "--out", str(blocker / "x.jsonl")])
    assert result.exit_code == 2
    assert "cannot create" in _flat(result.output)


def test_packaged_null_config_runs(tmp_path: Path) -> None:
    config = Path(__file__).parents[2] / "simulator/no_marketing_effects.yaml"
    out = tmp_path / "null.jsonl"
    args = ["simulate", "--customers", "5", "--days", "30", "--out", str(out)]
    result = runner.invoke(_app(), [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


def test_the_returnrisk_app_mounts_simulate(tmp_path: Path) -> None:
    try:
        from returnrisk.cli import app
    except ModuleNotFoundError as exc:  # sibling commands still being written
        pytest.skip(f"returnrisk.cli does not import yet: {exc}")
    out = tmp_path / "events.jsonl"
    result = runner.invoke(app, ["simulate", "--customers", "3", "--days", "10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_offers_from_another_run_are_warned_about_and_a_bad_file_is_a_usage_error(
    tmp_path: Path,
) -> None:
    args = ["simulate", "--customers", "30", "--days", "120", "--out", str(tmp_path / "a.jsonl")]
    assert runner.invoke(_app(), [*args, "--seed", "1"]).exit_code == 0
    orders = [
        json.loads(line)
        for line in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
        if '"event_type":"order_placed"' in line
    ]
    offers = tmp_path / "offers.jsonl"
    offers.write_text("\n".join(_offer_record(order) for order in orders[:20]) + "\n")
    same = runner.invoke(_app(), [*args, "--seed", "1", "--offers", str(offers)])
    assert same.exit_code == 0, same.output
    assert "20 of them on orders and events of this run" in _flat(same.output)
    assert "warning" not in same.output
    other = runner.invoke(_app(), [*args, "--seed", "2", "--offers", str(offers)])
    assert other.exit_code == 0, other.output
    assert "warning: 20 offers are on orders or events this run never produced" in _flat(
        other.output
    )
    offers.write_text('{"offer_id": "x"}\n')
    bad = runner.invoke(_app(), [*args, "--offers", str(offers)])
    assert bad.exit_code == 2
    assert "offers.jsonl: line 1: not an offer record" in _flat(bad.output)


def _offer_record(order: dict[str, str]) -> str:
    return json.dumps(
        {
            "offer_id": f"o-{order['event_id']}", "offer_type": "size_guidance",
            "customer_id": order["customer_id"], "segment": "default", "band": "medium",
            "rule": "guide", "source_event_id": order["event_id"],
            "created_at": order["occurred_at"], "expires_at": order["occurred_at"],
            "order_id": order["order_id"],
        }
    )  # fmt: skip
