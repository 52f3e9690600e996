"""Fixtures for the analytics tests: the hand-built log as tables (see `logs.py`), small
simulated logs, and one report written by the CLI, shared by the HTML and report tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.dataset import Tables, read_events
from schemas import InputEvent
from simulator.config import SimulatorConfig, load_config
from simulator.runner import simulate_events
from tests.analytics.logs import SimulateLog, known_events, tables_of


@pytest.fixture
def known() -> Tables:
    return tables_of(known_events(), segment_by=["country"])


@pytest.fixture(scope="session")
def simulate_log(tmp_path_factory: pytest.TempPathFactory) -> SimulateLog:
    """Factory: simulate_log(customers=, days=, seed=, config=None) -> path of a JSON-lines
    log (cached per arguments within the session)."""
    folder = tmp_path_factory.mktemp("logs")
    made: dict[tuple[object, ...], Path] = {}

    def run(*, customers: int, days: int, seed: int, config: SimulatorConfig | None = None) -> Path:
        key = (customers, days, seed, id(config))
        if key not in made:
            lines, _ = simulate_events(
                config or load_config(None),
                customers=customers,
                days=days,
                seed=seed,
                start=date(2025, 1, 1),
            )
            path = folder / f"log-{len(made)}.jsonl"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            made[key] = path
        return made[key]

    return run


@pytest.fixture(scope="session")
def small_log(simulate_log: SimulateLog) -> Path:
    """400 customers over 200 days: every event type, ~1,000 orders."""
    return simulate_log(customers=400, days=200, seed=5)


@pytest.fixture(scope="session")
def small_events(small_log: Path) -> list[InputEvent]:
    events, invalid = read_events(small_log)
    assert not invalid
    return events


@pytest.fixture(scope="session")
def report_dir(small_log: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`returnrisk report` run once on the small log, with a --segment-by attribute."""
    from returnrisk.cli import app

    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(
        app, ["report", "--events", str(small_log), "--out", str(out), "--segment-by", "age_band"]
    )
    assert result.exit_code == 0, result.output
    return out
