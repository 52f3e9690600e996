"""One backtest: a model version, one policy or two, a window of an event log, written out.

Writes `backtest.json` (every table and the run's inputs), one CSV per table and a
self-contained `backtest.html`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from backtest.html import render
from backtest.ledger import BacktestError, Ledger, PolicyLedgers, price
from backtest.outcomes import LogFacts
from backtest.replay import decide_log
from models.inference import ScoringModel
from models.registry import MANIFEST, Registry, read_json
from policy.rules import Policy
from schemas import InputEvent

TABLES = ("rules", "resolutions", "segments", "total")
OFFERS_FILES = ("offers.jsonl", "compare-offers.jsonl")
"""The offer records of each policy, as the worker would have emitted them."""


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime


def check_model_window(registry: Registry, version: str, window: Window) -> str | None:
    """Refuse a window that starts before the version's training data ends (its decisions
    would be scored by a model that has seen their outcomes); a warning when it starts
    before the last training label could be known."""
    manifest = read_json(registry.path(version) / MANIFEST, "manifest")
    data_end = datetime.fromisoformat(manifest["training_window"]["validation_to"])
    if window.since < data_end:
        raise BacktestError(
            f"--from {window.since.date()} is before the end of model {version}'s training "
            f"data ({data_end.date()}): backtest a later window, or a model trained earlier"
        )
    labels_end = data_end + timedelta(days=int(manifest["label_window_days"]))
    if window.since < labels_end:
        return (
            f"--from {window.since.date()} is within the label window of model {version}'s "
            f"last training orders (labels known until {labels_end.date()})"
        )
    return None


def run_backtest(
    events: Sequence[InputEvent],
    model: ScoringModel,
    policies: Sequence[Policy],
    window: Window,
    out: Path,
    on_batch: Callable[[int], None] = lambda done: None,
) -> dict[str, Any]:
    """Decide, price and write; returns what backtest.json holds."""
    within = [e for e in events if e.occurred_at < window.until]
    facts = LogFacts(list(events))
    priced = []
    out.mkdir(parents=True, exist_ok=True)
    for policy, offers_file in zip(policies, OFFERS_FILES, strict=False):
        decisions = decide_log(within, model, policy, window.since, on_batch=on_batch)
        priced.append((policy, price(decisions, facts, policy)))
        with (out / offers_file).open("wb") as file:
            file.writelines(orjson.dumps(offer) + b"\n" for offer in decisions.offers)
    names = _names([policy.source for policy in policies])
    tables = {table: _rows(table, priced, names) for table in TABLES}
    summary = {
        "model_version": model.version,
        "from": window.since.isoformat(),
        "to": window.until.isoformat(),
        "policies": dict(zip(names, (p.source for p in policies), strict=True)),
        "log_end": facts.end.isoformat(),
        "tables": tables,
    }
    (out / "backtest.json").write_text(json.dumps(summary, indent=2) + "\n")
    for table, rows in tables.items():
        _write_csv(out / f"{table}.csv", rows)
    (out / "backtest.html").write_text(render(summary))
    return summary


def _names(sources: list[str]) -> list[str]:
    """Short policy names for the tables: the file names, numbered if they repeat."""
    stems = [Path(source).stem for source in sources]
    if len(set(stems)) == len(stems):
        return stems
    return [f"{stem} ({i + 1})" for i, stem in enumerate(stems)]


def _rows(
    table: str, priced: list[tuple[Policy, PolicyLedgers]], names: list[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, (_, ledgers) in zip(names, priced, strict=True):
        groups: dict[str, Ledger] = (
            {"all": ledgers.total} if table == "total" else getattr(ledgers, table)
        )
        rows.extend({"policy": name, "group": g, **groups[g].row()} for g in sorted(groups))
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
