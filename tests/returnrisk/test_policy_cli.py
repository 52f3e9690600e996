"""`returnrisk policy backtest`: two policies side by side, and one-line errors."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner, Result

from models.registry import MANIFEST
from simulator.config import load_config
from simulator.runner import run_simulation
from tests.fixtures.models import TrainedRegistry

PACKAGED = Path(__file__).parents[2] / "policy" / "policy.yaml"


@dataclass(frozen=True)
class Window:
    log: Path
    registry: Path
    trained_to: date
    since: date
    until: date


@pytest.fixture(scope="module")
def window(trained_registry: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory) -> Window:
    """A log running on after the promoted model's training data."""
    registry = trained_registry.registry
    promoted = registry.read_pointer()
    assert promoted is not None
    manifest = json.loads((registry.path(promoted.version) / MANIFEST).read_text())
    trained_to = datetime.fromisoformat(manifest["training_window"]["validation_to"]).date()
    since = trained_to + timedelta(days=31)  # past the last training labels too
    until = since + timedelta(days=45)
    start = since - timedelta(days=60)
    log = tmp_path_factory.mktemp("policy-cli") / "events.jsonl"
    days = (until - start).days + 30
    run_simulation(load_config(), customers=400, days=days, seed=5, start=start, out=log)
    return Window(log, registry.root, trained_to, since, until)


def _backtest(cli_app: typer.Typer, window: Window, out: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli_app,
        [
            "policy", "backtest", "--events", str(window.log), "--registry", str(window.registry),
            "--out", str(out), *args,
        ],
    )  # fmt: skip


def _dates(since: date, until: date) -> list[str]:
    return ["--from", since.isoformat(), "--to", until.isoformat()]


def _no_instant_credit(tmp_path: Path) -> Path:
    document = yaml.safe_load(PACKAGED.read_text())
    document["resolutions"] = [
        r for r in document["resolutions"] if r.get("resolution") != "instant_store_credit"
    ]
    path = tmp_path / "no-credit.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_two_policies_side_by_side_differ_only_where_their_rules_do(
    cli_app: typer.Typer, window: Window, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _backtest(
        cli_app, window, out, "--policy", str(PACKAGED),
        "--compare", str(_no_instant_credit(tmp_path)), *_dates(window.since, window.until),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with (out / "total.csv").open() as file:
        packaged, strict = list(csv.DictReader(file))
    assert (packaged["policy"], strict["policy"]) == ("policy", "no-credit")
    assert int(packaged["instant_credits"]) > 0 and int(strict["instant_credits"]) == 0
    assert Decimal(strict["credit_lost"]) == 0
    # the same requests with the same outcomes: what one policy loses the other protects
    assert Decimal(packaged["credit_lost"]) + Decimal(packaged["protected"]) == Decimal(
        strict["credit_lost"]
    ) + Decimal(strict["protected"])
    assert (packaged["orders"], packaged["requests"]) == (strict["orders"], strict["requests"])
    assert (out / "offers.jsonl").stat().st_size and (out / "compare-offers.jsonl").stat().st_size
    page = (out / "backtest.html").read_text()
    assert "no-credit" in page and page.count("<img") >= 3


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("window inside the training data", "before the end of model"),
        ("policy without economics", "no economics section"),
        ("from after to", "is after --to"),
    ],
)
def test_a_backtest_that_cannot_run_says_why_in_one_line(
    cli_app: typer.Typer, window: Window, tmp_path: Path, case: str, fragment: str
) -> None:
    dates = _dates(window.since, window.until)
    policy = PACKAGED
    if case == "window inside the training data":
        dates = _dates(window.trained_to - timedelta(days=10), window.until)
    elif case == "policy without economics":
        document = yaml.safe_load(PACKAGED.read_text())
        del document["economics"]
        for rule in document["offers"]:
            if "options" in rule:  # options need economics: make it a single offer
                rule.update(rule.pop("options")[0])
        policy = tmp_path / "plain.yaml"
        policy.write_text(yaml.safe_dump(document))
    else:
        dates = _dates(window.until, window.since)
    result = _backtest(cli_app, window, tmp_path / "out", "--policy", str(policy), *dates)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
