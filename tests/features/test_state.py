"""Order, duplicates and lateness must not change what a customer's state reads as."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.codec import decode_state, encode_state
from features.config import FeatureConfig
from features.state import CustomerState, Outcome, apply_event
from features.vector import feature_values
from schemas import InputEvent, OrderPlaced
from tests.fixtures.typed_events import at, line, order, profile, receipt, return_request, touch

CONFIG = FeatureConfig()


def history() -> list[InputEvent]:
    """Ninety days of one customer's life, in event-time order."""
    events: list[InputEvent] = [profile(at(-30), "silver", signup=at(-30))]
    for day in range(0, 90, 9):
        oid = f"o{day}"
        events.append(touch(at(day - 1), "paid_social" if day % 2 else "email", "click"))
        events.append(
            order(
                at(day),
                oid,
                line("a-s", "30.00", size="S", product="p1"),
                line("a-m", "30.00", size="M", product="p1"),
            )
        )
        if day % 3 == 0:
            events.append(return_request(at(day + 4), oid, ("a-s", 1, "size_too_small")))
            events.append(receipt(at(day + 8), oid, ("a-s", 1, "worn")))
    events.sort(key=lambda e: e.occurred_at)
    return events


def replay(events: list[InputEvent]) -> CustomerState:
    state = CustomerState()
    for event in events:
        apply_event(state, event, CONFIG)
    return state


def test_a_redelivered_event_changes_nothing() -> None:
    events = history()
    state = replay(events)
    before = encode_state(state)
    outcomes = {apply_event(state, e, CONFIG) for e in events}
    # Recent events are recognised as duplicates; ones older than their retention are too late.
    assert outcomes == {Outcome.DUPLICATE, Outcome.TOO_LATE}
    assert encode_state(state) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), duplicate_share=st.floats(0, 0.5))
def test_any_arrival_order_within_grace_with_duplicates_reads_the_same(
    seed: int, duplicate_share: float
) -> None:
    events = history()
    rng = random.Random(seed)
    arrivals = events + [e for e in events if rng.random() < duplicate_share]
    max_delay = CONFIG.grace_days * 86_400
    arrivals.sort(key=lambda e: e.occurred_at.timestamp() + rng.uniform(0, max_delay))
    in_order, shuffled = replay(events), replay(arrivals)
    assert encode_state(in_order) == encode_state(shuffled)
    for event in events:
        if isinstance(event, OrderPlaced):
            assert feature_values(shuffled, event, CONFIG) == feature_values(
                in_order, event, CONFIG
            )


@pytest.mark.parametrize("popped", ["o9", "o45", "o81"])
def test_a_late_order_still_kept_in_full_lands_in_its_own_time(popped: str) -> None:
    """Orders are kept in full for `return_match_days` plus grace: one 72 days behind the
    newest order still lands exactly (and is matched to the return requests before it)."""
    events = history()
    late = next(e for e in events if isinstance(e, OrderPlaced) and e.order_id == popped)
    events.remove(late)
    state = replay(events)
    assert apply_event(state, late, CONFIG) is Outcome.APPLIED
    in_order = replay(sorted([*events, late], key=lambda e: e.occurred_at))
    assert encode_state(state) == encode_state(in_order)


def test_a_late_receipt_within_grace_lands_and_one_beyond_is_too_late() -> None:
    """Receipts are kept in full only for the grace period (plus a day), then as day tiles:
    an older one is too late, so a redelivery can never be added to a tile twice."""
    state = replay([receipt(at(d), f"o{d}", ("a-s", 1, "worn")) for d in range(0, 60, 3)])
    tiled = len(state.receipt_tiles)
    before = encode_state(state)
    assert apply_event(state, receipt(at(45), "o45", ("a-s", 1, "worn")), CONFIG) in (
        Outcome.TOO_LATE,
    )
    assert encode_state(state) == before
    assert apply_event(state, receipt(at(52), "late", ("a-s", 1, "worn")), CONFIG) is (
        Outcome.APPLIED
    )
    assert len(state.receipt_tiles) == tiled and tiled > 0


def test_an_event_older_than_its_window_plus_grace_is_too_late() -> None:
    state = replay([touch(at(100), "email")])
    grace = CONFIG.grace_days
    assert apply_event(state, touch(at(100 - 7 - grace - 1), "sms"), CONFIG) is Outcome.TOO_LATE
    assert apply_event(state, touch(at(100 - 7 - grace + 1), "sms"), CONFIG) is Outcome.APPLIED


def test_old_records_expire_on_their_kinds_event_time_clock() -> None:
    state = replay([order(at(0), "o1"), touch(at(0), "email"), profile(at(0)), profile(at(1))])
    apply_event(state, order(at(400), "o2"), CONFIG)
    assert [o.at for o in state.orders] == [int(at(400).timestamp())]
    assert len(state.touches) == 1 and len(state.profiles) == 2  # their clocks did not move
    apply_event(state, touch(at(400), "sms"), CONFIG)
    apply_event(state, profile(at(400)), CONFIG)
    assert [t.at for t in state.touches] == [int(at(400).timestamp())]
    assert len(state.profiles) == 2  # the newest version before the horizon is still needed
    assert state.expired_orders == 1
    assert state.first_order_at == int(at(0).timestamp())
    v = feature_values(state, order(at(401), "o3"), CONFIG)
    assert v["orders_count_lifetime"] == 2.0
    assert v["tenure_days"] == 401.0


def test_a_topic_read_far_behind_another_is_not_too_late() -> None:
    """faust reads the order topic ahead of the touch topic when catching up: a month of
    orders first, then that month's touches, must give the same state as event-time order."""
    month = [order(at(d), f"o{d}") for d in range(0, 30, 3)]
    touches = [touch(at(d, hours=-1), "paid_social") for d in range(0, 30, 3)]
    skewed = replay(month + touches)
    assert encode_state(skewed) == encode_state(
        replay(sorted(month + touches, key=lambda e: e.occurred_at))
    )


def test_state_survives_encoding() -> None:
    state = replay(history())
    assert decode_state(encode_state(state)) == state
