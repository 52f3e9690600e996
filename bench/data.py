"""The bench's input: one simulated log (the measured part plus a tail for the latency phase),
and a small model trained on it and promoted, as `returnrisk train` / `models promote` do."""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.errors import BenchError
from bench.processes import python_command, subprocess_env
from simulator.config import load_config
from simulator.runner import simulate_events

_EVENTS_PER_CUSTOMER_DAY = 0.12  # a little under the default simulator's ~0.134
_START = date(2025, 1, 1)


class BenchDataError(BenchError):
    """The input log or the model could not be made; the message says which step failed."""


@dataclass(frozen=True, slots=True)
class BenchLog:
    measured: Path
    """The first `events` lines: what (a), (b) and (c) each consume."""
    tail: Path
    """The lines after them (later in event time): offered at a fixed rate for latency."""
    measured_count: int
    tail_count: int


def simulate_log(folder: Path, events: int, tail: int, customers: int, seed: int) -> BenchLog:
    """Simulate `customers` for as many days as `events + tail` lines need, split the log."""
    wanted = events + tail
    days = math.ceil(wanted / (customers * _EVENTS_PER_CUSTOMER_DAY)) + 1
    for _ in range(4):
        lines, _summary = simulate_events(
            load_config(), customers=customers, days=days, seed=seed, start=_START
        )
        if len(lines) >= wanted:
            break
        days *= 2
    else:
        raise BenchDataError(
            f"simulate: {customers} customers gave only {len(lines)} of {wanted} events; "
            "use more --customers"
        )
    measured, rest = folder / "measured.jsonl", folder / "tail.jsonl"
    measured.write_text("\n".join(lines[:events]) + "\n")
    rest.write_text("\n".join(lines[events:wanted]) + "\n")
    return BenchLog(measured, rest, events, tail)


def train_and_promote(log: Path, registry: Path, cwd: Path) -> Path:
    """Train one version on `log` into `registry` and promote it; returns the registry."""
    for step in (
        ["train", "--events", str(log), "--registry", str(registry)],
        ["models", "promote", "latest", "--registry", str(registry)],
    ):
        done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            python_command("returnrisk", *step),
            env=subprocess_env({}),
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchDataError(
                f"`returnrisk {step[0]}` failed ({done.returncode}): "
                f"{(done.stdout + done.stderr)[-2000:]}"
            )
    return registry
