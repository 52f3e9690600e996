"""The offline training set: point-in-time features, labels, and the CLI that writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from features.config import FeatureConfig
from features.registry import FEATURE_NAMES, feature_set_hash
from features.replay import LabelRule, build_training_table, replay_orders
from schemas import InputEvent, OrderPlaced, encode_event
from schemas.common import ReturnType
from tests.fixtures.histories import random_history
from tests.fixtures.typed_events import at, order, return_request, touch

CONFIG = FeatureConfig()


def _vectors(events: list[InputEvent]) -> dict[str, dict]:
    return {o.event_id: v for o, v, _ in replay_orders(events, CONFIG)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), cut=st.floats(0.1, 0.9), extra=st.integers(1, 20))
def test_later_events_never_change_an_earlier_orders_features(
    seed: int, cut: float, extra: int
) -> None:
    events = random_history(customers=6, days=60, seed=seed)
    orders = [e for e in events if isinstance(e, OrderPlaced)]
    moment = orders[int(len(orders) * cut)].occurred_at
    before = {o: v for o, v in _vectors(events).items()}
    # Add, and change, events after `moment`: every order up to it must read the same.
    later = [
        e for e in random_history(customers=6, days=60, seed=seed + 1) if e.occurred_at > moment
    ]
    changed = [e for e in events if e.occurred_at <= moment] + later[:extra]
    changed.sort(key=lambda e: e.occurred_at)
    after = _vectors(changed)
    earlier_orders = [
        e.event_id for e in events if isinstance(e, OrderPlaced) and e.occurred_at <= moment
    ]
    assert earlier_orders
    for order_id in earlier_orders:
        assert json.dumps(after[order_id], default=str) == json.dumps(before[order_id], default=str)


def test_labels_count_commercial_returns_within_the_window() -> None:
    events: list[InputEvent] = [
        order(at(0), "returned"),
        order(at(0), "late-return"),
        order(at(0), "service-only"),
        order(at(50), "window-open"),
        return_request(at(10), "returned", ("sku-1", 1, "size_too_small")),
        return_request(at(31), "late-return", ("sku-1", 1, "changed_mind")),
        return_request(at(5), "service-only", ("sku-1", 1, "defective"), return_type="service"),
        touch(at(60), "email"),
    ]
    table = build_training_table(events, CONFIG, LabelRule(window_days=30))
    rows = {r["order_id"]: r for r in table.to_pylist()}
    assert rows["returned"]["label"] == 1
    assert rows["late-return"]["label"] == 0
    assert rows["service-only"]["label"] == 0
    assert rows["window-open"]["label_complete"] is False
    assert all(rows[o]["label_complete"] for o in ("returned", "late-return", "service-only"))
    both = LabelRule(window_days=30, return_types=frozenset(ReturnType))
    rows = {r["order_id"]: r for r in build_training_table(events, CONFIG, both).to_pylist()}
    assert rows["service-only"]["label"] == 1


def _write_log(path: Path, events: list[InputEvent]) -> Path:
    path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    return path


def test_build_command_writes_one_row_per_order(tmp_path: Path, cli_app) -> None:  # type: ignore[no-untyped-def]
    events = random_history(customers=30, days=90, seed=3)
    log = _write_log(tmp_path / "events.jsonl", events)
    out = tmp_path / "training.parquet"
    result = CliRunner().invoke(
        cli_app, ["features", "build", "--events", str(log), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == sum(1 for e in events if isinstance(e, OrderPlaced))
    assert set(FEATURE_NAMES) <= set(table.column_names)
    assert table.schema.metadata[b"returnrisk.feature_set_hash"] == feature_set_hash().encode()


@pytest.mark.integration
def test_parity_command_reports_zero_mismatches_through_redis(
    tmp_path: Path,
    cli_app,
    settings_env,
    redis_url: str,  # type: ignore[no-untyped-def]
) -> None:
    settings_env({"RETURNRISK_REDIS_URL": redis_url})
    log = _write_log(tmp_path / "events.jsonl", random_history(customers=40, days=120, seed=9))
    result = CliRunner().invoke(
        cli_app,
        [
            "features",
            "parity",
            "--events",
            str(log),
            "--max-lateness-s",
            "86400",
            "--duplicate-share",
            "0.05",
            "--batch-size",
            "64",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "mismatches: 0" in result.output
    assert "orders compared: " in result.output


def test_holiday_purchases_get_the_extended_return_window() -> None:
    placed = at(328)  # 2025-11-25
    events: list[InputEvent] = [
        order(placed, "gift"),
        return_request(at(362), "gift", ("sku-1", 1, "changed_mind")),  # Dec 29: 37 days later
        order(at(100), "ordinary"),
        touch(at(400), "email"),  # the log ends Feb 5, 2026: both windows have closed
    ]
    rows = {r["order_id"]: r for r in build_training_table(events, CONFIG, LabelRule()).to_pylist()}
    assert rows["gift"]["label"] == 1 and rows["gift"]["label_complete"] is True
    rows = {
        r["order_id"]: r
        for r in build_training_table(events, CONFIG, LabelRule(holiday=None)).to_pylist()
    }
    assert rows["gift"]["label"] == 0
    open_window = build_training_table(events[:2], CONFIG, LabelRule()).to_pylist()
    assert open_window[0]["label_complete"] is False  # Dec 29 is before Jan 31
