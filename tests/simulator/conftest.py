"""Shared simulated logs: small ones for contract checks, year-long ones for the effects.

The year-long logs take a second or two each, so they are built once per session and
shared; everything reads them back from the wire format only (see log_analysis.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from simulator.config import (
    DEFAULT_CONFIG,
    NO_MARKETING_EFFECTS_CONFIG,
    SimulatorConfig,
    load_config,
)
from simulator.runner import simulate_events
from tests.simulator.log_analysis import OrderFacts, order_facts

START = date(2025, 1, 1)
EFFECT_CUSTOMERS = 3_000  # enough orders per channel for the effect tests to be decisive
EFFECT_SEED = 7

Simulate = Callable[..., list[str]]


@pytest.fixture(scope="session")
def default_config() -> SimulatorConfig:
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def simulate(default_config: SimulatorConfig) -> Simulate:
    """Factory: simulate(customers=, days=, seed=, config=None, start=START) -> JSON lines."""

    def run(
        *,
        customers: int,
        days: int,
        seed: int,
        config: SimulatorConfig | None = None,
        start: date = START,
    ) -> list[str]:
        lines, _ = simulate_events(
            config or default_config, customers=customers, days=days, seed=seed, start=start
        )
        return lines

    return run


@pytest.fixture(scope="session")
def small_log(simulate: Simulate) -> list[str]:
    """200 customers over a year: every event type, a few hundred orders and returns."""
    return simulate(customers=200, days=365, seed=3)


@pytest.fixture(scope="session")
def small_events(small_log: list[str]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in small_log]


def _year_events(simulate: Simulate, config: SimulatorConfig) -> list[dict[str, Any]]:
    lines = simulate(customers=EFFECT_CUSTOMERS, days=365, seed=EFFECT_SEED, config=config)
    return [orjson.loads(line) for line in lines]


@pytest.fixture(scope="session")
def year_events(simulate: Simulate, default_config: SimulatorConfig) -> list[dict[str, Any]]:
    """A year of EFFECT_CUSTOMERS customers under the default config."""
    return _year_events(simulate, default_config)


@pytest.fixture(scope="session")
def year_orders(
    year_events: list[dict[str, Any]], default_config: SimulatorConfig
) -> list[OrderFacts]:
    return order_facts(year_events, default_config.marketing.attribution_window_days)


@pytest.fixture(scope="session")
def null_year_orders(simulate: Simulate) -> list[OrderFacts]:
    """The same year under no_marketing_effects.yaml."""
    config = load_config(NO_MARKETING_EFFECTS_CONFIG)
    events = _year_events(simulate, config)
    return order_facts(events, config.marketing.attribution_window_days)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Factory: write YAML text to a file and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
