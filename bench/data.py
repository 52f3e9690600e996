"""The bench's input: the measured log (what (a), (b) and (c) consume) and a small model trained
on it and promoted, as `returnrisk train` / `models promote` do; then the latency phase's own,
longer log (the tail), simulated once (c)'s rate says how long it must last.

The tail is a second simulation that starts the day after the measured log's horizon, with
its own seed and as many customers as its length needs over one year (the measured log keeps
its size and horizon, so it stays the same log as in earlier runs). Its first customers share
ids with the measured ones, whose states it continues. It is written by a child process
(`returnrisk simulate`: about 1.4 M events in 25 s, 0.8 GB at its peak, all freed when it
exits) and read line by line, so the bench holds none of it in memory.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.errors import BenchError
from bench.processes import python_command, subprocess_env
from simulator.config import load_config
from simulator.runner import simulate_events

_EVENTS_PER_CUSTOMER_DAY = 0.12  # a little under the default simulator's ~0.134
_START = date(2025, 1, 1)
_TAIL_DAYS = 365
_TAIL_MARGIN = 1.1
"""The tail is simulated 10 % longer than needed: the simulator's event count varies."""
SCORED_TYPES = frozenset({"order_placed", "return_requested"})
"""The events the worker scores (the others update state only)."""


class BenchDataError(BenchError):
    """The input log or the model could not be made; the message says which step failed."""


@dataclass(frozen=True, slots=True)
class MeasuredLog:
    path: Path
    """The `events` lines that (a), (b) and (c) each consume."""
    count: int
    scored_types: int
    """How many of them are of a type the worker scores."""
    days: int
    """The simulated horizon: the tail starts the day after."""


@dataclass(frozen=True, slots=True)
class TailLog:
    path: Path
    events: int
    """Lines in `path`: the events the latency phase offers."""
    scored_types: int
    """How many of them are orders or return requests."""
    customers: int
    days: int
    start: date
    seed: int
    ran_short: bool
    """True when even the largest simulation did not reach the wanted size."""


def simulate_measured(
    folder: Path, events: int, horizon: int, customers: int, seed: int
) -> MeasuredLog:
    """Simulate `customers` for as many days as `horizon` lines need; keep the first `events`."""
    days = math.ceil(horizon / (customers * _EVENTS_PER_CUSTOMER_DAY)) + 1
    for _ in range(4):
        lines, _summary = simulate_events(
            load_config(), customers=customers, days=days, seed=seed, start=_START
        )
        if len(lines) >= horizon:
            break
        days *= 2
    else:
        raise BenchDataError(
            f"simulate: {customers} customers gave only {len(lines)} of {horizon} events; "
            "use more --customers"
        )
    measured = folder / "measured.jsonl"
    measured.write_text("\n".join(lines[:events]) + "\n")
    scored = sum(_scored_type(line) for line in lines[:events])
    return MeasuredLog(measured, events, scored, days)


def simulate_tail(
    folder: Path, after: MeasuredLog, min_events: int, min_scored: int, seed: int, cwd: Path
) -> TailLog:
    """A log of at least `min_events` events of which at least `min_scored` are scored types,
    cut right after the first line that satisfies both (see the module's docstring)."""
    share = after.scored_types / after.count if after.count else 0.0
    if share <= 0:
        raise BenchDataError("simulate tail: the measured log has no orders or return requests")
    wanted = max(min_events, math.ceil(min_scored / share)) * _TAIL_MARGIN
    customers = math.ceil(wanted / (_TAIL_DAYS * _EVENTS_PER_CUSTOMER_DAY))
    start = _START + timedelta(days=after.days)
    path = folder / "tail.jsonl"
    for attempt in range(3):
        _run_simulator(path, customers, start, seed, cwd)
        found = _cut(path, min_events, min_scored)
        if found is not None or attempt == 2:
            break
        customers *= 2
    events, scored = found if found is not None else _count(path)
    return TailLog(path, events, scored, customers, _TAIL_DAYS, start, seed, found is None)


def _run_simulator(out: Path, customers: int, start: date, seed: int, cwd: Path) -> None:
    step = [
        "simulate", "--out", str(out), "--customers", str(customers),
        "--days", str(_TAIL_DAYS), "--seed", str(seed), "--start", start.isoformat(),
    ]  # fmt: skip
    _returnrisk(step, cwd)


def _cut(path: Path, min_events: int, min_scored: int) -> tuple[int, int] | None:
    """Truncate `path` after the first line at which both minimums hold: (lines, scored);
    None (and `path` untouched) when the file ends first."""
    events = scored = end = 0
    with path.open("rb") as lines:
        for line in lines:
            events, end = events + 1, end + len(line)
            scored += _scored_type(line)
            if events >= min_events and scored >= min_scored:
                break
        else:
            return None
    os.truncate(path, end)
    return events, scored


def _count(path: Path) -> tuple[int, int]:
    events = scored = 0
    with path.open("rb") as lines:
        for line in lines:
            events += 1
            scored += _scored_type(line)
    return events, scored


def _scored_type(line: str | bytes) -> bool:
    return json.loads(line).get("event_type") in SCORED_TYPES


def train_and_promote(log: Path, registry: Path, cwd: Path) -> Path:
    """Train one version on `log` into `registry` and promote it; returns the registry."""
    _returnrisk(["train", "--events", str(log), "--registry", str(registry)], cwd)
    _returnrisk(["models", "promote", "latest", "--registry", str(registry)], cwd)
    return registry


def _returnrisk(step: list[str], cwd: Path) -> None:
    """Run one `returnrisk` command in a child process; `BenchDataError` with its output's
    tail when it fails."""
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
