"""From events to tables: counted returns, selection, and segments that mean what the models
mean by them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import pytest

from analytics.dataset import MAX_GROUPS, OTHER, Selection, Tables
from analytics.segmentation import MARKETING_FEATURES
from features.config import FeatureConfig
from features.registry import FEATURE_NAMES
from features.replay import LabelRule, build_training_table, replay_orders
from models.dataset import feature_columns, segment_rows
from models.segments import Segments, default_segments_text
from schemas import CampaignTouch, InputEvent
from tests.analytics.logs import known_events, tables_of
from tests.fixtures.histories import random_history
from tests.fixtures.typed_events import at, line, order, profile, return_request


def _order(tables: Tables, order_id: str) -> pd.Series:
    return tables.orders.set_index("order_id").loc[order_id]


def test_orders_carry_items_value_and_what_came_back(known: Tables) -> None:
    o1, o2, o3 = (_order(known, o) for o in ("o1", "o2", "o3"))
    assert (o1["items"], o1["value_cents"], o1["currency"]) == (3, 12_000, "EUR")
    # r1 asks for 1 a, r2 for 2 more: only 1 more was bought, so 2 count, at 50.00 each.
    assert (o1["returned_items"], o1["returned_cents"], o1["return_requests"]) == (2, 10_000, 2)
    assert o1["returned"]
    assert (o2["returned"], o2["returned_items"]) == (False, 0)  # only a service return
    assert (o3["returned_items"], o3["returned_cents"], o3["currency"]) == (1, 1_000, "GBP")
    assert known.counts.requested_items_over_bought == 1
    assert known.counts.return_requests == 4


def test_service_lines_are_kept_but_never_counted(known: Tables) -> None:
    lines = known.return_lines.set_index("return_id")
    assert lines.loc["r3", "return_type"] == "service"
    assert lines.loc["r3", "counted"] == 0
    assert lines.loc["r2", "counted"] == 1


def test_duplicates_and_returns_for_unknown_orders_are_counted_apart() -> None:
    events = known_events()
    resent = events[2].model_copy(update={"event_id": "another-id"})  # o1 again
    stray = return_request(at(30), "not-in-log", ("x-1", 1, "other"))
    tables = tables_of(sorted([*events, resent, stray], key=lambda e: e.occurred_at))
    assert len(tables.orders) == 3
    assert tables.counts.duplicate_orders == 1
    assert tables.counts.returns_for_unknown_orders == 1


def test_the_period_selects_orders_by_day_and_keeps_their_later_returns() -> None:
    selection = Selection(start=date(2025, 1, 1), end=date(2025, 1, 4))  # days 0 to 3
    tables = tables_of(known_events(), selection=selection)
    assert sorted(tables.orders["order_id"]) == ["o1", "o3"]
    assert _order(tables, "o3")["returned"]  # its return (day 8) is after --to: still counts
    assert tables.period == (date(2025, 1, 1), date(2025, 1, 4))


def test_the_filter_selects_orders_with_the_models_evaluator() -> None:
    tables = tables_of(known_events(), filter_text="country == 'DE' and loyalty_tier in ['gold']")
    assert sorted(tables.orders["order_id"]) == ["o1", "o2"]
    by_attribute = tables_of(known_events(), filter_text="age_band == '55+'")
    assert list(by_attribute.orders["order_id"]) == ["o3"]


def test_groups_are_point_in_time_feature_values() -> None:
    events: list[InputEvent] = [
        order(at(0), "first", line("a-1")),
        order(at(100), "later", line("a-1")),
    ]
    tables = tables_of(events, segment_by=["orders_count_lifetime"])
    assert list(tables.orders["by:orders_count_lifetime"]) == ["0", "1"]
    assert list(tables.orders["customer_type"]) == ["new", "returning"]


def test_large_groupings_keep_their_largest_groups() -> None:
    events: list[InputEvent] = []
    for c in range(MAX_GROUPS + 5):  # customer c has c + 1 orders and its own store
        customer = f"c{c}"
        events.append(profile(at(-1), customer=customer, store=f"store-{c:02d}"))
        events += [order(at(n), f"{customer}-{n}", customer=customer) for n in range(c + 1)]
    tables = tables_of(sorted(events, key=lambda e: e.occurred_at), segment_by=["store"])
    groups = tables.group_order["store"]
    assert len(groups) == MAX_GROUPS and groups[-1] == OTHER
    assert groups[0] == f"store-{MAX_GROUPS + 4:02d}"
    pooled = tables.orders["by:store"] == OTHER
    assert pooled.sum() == sum(range(1, 7))  # the six smallest stores: 1 + ... + 6 orders


def _non_marketing(events: Sequence[InputEvent]) -> dict[str, str]:
    names = [n for n in FEATURE_NAMES if n not in MARKETING_FEATURES]
    return {
        o.order_id: repr([values[n] for n in names])
        for o, values, _ in replay_orders(events, FeatureConfig())
    }


@pytest.mark.parametrize("seed", [4, 5])
def test_leaving_touches_out_of_the_replay_changes_no_other_feature(seed: int) -> None:
    events = random_history(customers=10, days=120, seed=seed)
    without = [e for e in events if not isinstance(e, CampaignTouch)]
    assert len(without) < len(events)
    assert _non_marketing(without) == _non_marketing(events)


def test_segments_are_the_same_with_and_without_touches_in_the_replay(
    small_events: list[InputEvent],
) -> None:
    plain = tables_of(small_events)
    assert not plain.plan.needs_touches
    with_touches = tables_of(small_events, segment_by=["last_touch_channel"])
    assert with_touches.plan.needs_touches
    assert list(plain.orders["segment"]) == list(with_touches.orders["segment"])
    assert plain.orders["segment"].nunique() >= 4


def test_segments_are_those_training_assigns(small_events: list[InputEvent]) -> None:
    """The report's segment of every order is the one `returnrisk train` gives its row."""
    table = build_training_table(small_events, FeatureConfig(), LabelRule())
    columns, attributes = feature_columns(table)
    segments = Segments.from_yaml_text(default_segments_text())
    trained = dict(
        zip(
            table.column("order_id").to_pylist(),
            segments.assign(segment_rows(columns, attributes, segments.referenced_names)),
            strict=True,
        )
    )
    report = tables_of(small_events).orders
    assert dict(zip(report["order_id"], report["segment"], strict=True)) == trained
