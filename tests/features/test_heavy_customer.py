"""Heavy customers: every window exact at day grain, online equal to offline, memory bounded.

A wholesale buyer with thousands of orders a year used to be cut at 256 records per kind;
now records older than their `detail_days` are folded into day tiles and nothing is dropped.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.codec import decode_state, encode_state
from features.config import FeatureConfig
from features.parity import delivery_order, run_parity
from features.replay import replay_orders
from features.state import RETENTION_DAYS, CustomerState, Kind, Outcome, apply_event, detail_days
from features.store import MemoryFeatureStore
from features.units import DAY, epoch
from features.vector import feature_values
from schemas import InputEvent, OrderPlaced
from tests.fixtures.histories import random_history
from tests.fixtures.typed_events import at, line, order, receipt, return_request

CONFIG = FeatureConfig()
WINDOWS = (7, 30, 90, 365)


def heavy_customer(orders: int, days: int, seed: int, customer: str = "whale") -> list[InputEvent]:
    """`orders` orders over `days` days, a fifth of them in same-second bursts of 2 to 6, with
    return requests (some of several products) and receipts, in event-time order."""
    rng = random.Random(seed)
    events: list[InputEvent] = []
    placed = 0
    while placed < orders:
        moment = at(rng.uniform(0, days))
        burst = rng.randint(2, 6) if rng.random() < 0.2 else 1
        for _ in range(min(burst, orders - placed)):
            oid = f"{customer}-o{placed}"
            placed += 1
            products = rng.sample(range(40), rng.randint(1, 3))
            lines = [
                line(f"p{p}-s", f"{rng.randint(2, 90)}.00", rng.randint(1, 5)) for p in products
            ]
            events.append(order(moment, oid, *lines, customer=customer))
            if rng.random() < 0.3:
                returned = [
                    (f"p{p}-s", 1, rng.choice(("damaged", "size_too_small"))) for p in products
                ]
                kind = rng.choice(("commercial", "commercial", "service"))
                requested = at((moment - at(0)).total_seconds() / DAY + rng.uniform(0.1, 60))
                events.append(
                    return_request(requested, oid, *returned, customer=customer, return_type=kind)
                )
                if rng.random() < 0.5:
                    events.append(
                        receipt(
                            at((requested - at(0)).total_seconds() / DAY + rng.uniform(1, 9)),
                            oid,
                            (returned[0][0], 1, "worn"),
                            customer=customer,
                        )
                    )
    events.sort(key=lambda e: e.occurred_at)
    return events


def orders_in_window(order_times: list[int], moment: int, window: int) -> int:
    """The documented day-grain window, from raw event times: strictly before `moment`, on the
    day of `moment` or one of the `window` UTC days before it."""
    first_day = moment // DAY - window
    return sum(1 for t in order_times if t < moment and t // DAY >= first_day)


@pytest.fixture(scope="module")
def mixed_log() -> list[InputEvent]:
    log = heavy_customer(2_000, 180, seed=7) + random_history(customers=25, days=365, seed=8)
    log.sort(key=lambda e: e.occurred_at)
    return log


def test_parity_with_a_2000_order_customer_bursts_and_redeliveries(
    mixed_log: list[InputEvent],
) -> None:
    report = run_parity(
        mixed_log,
        MemoryFeatureStore(),
        CONFIG,
        max_lateness_s=1800,
        duplicate_share=0.15,
        batch_size=97,
        seed=3,
        redelivery_gap=200,
    )
    assert report.orders_compared == sum(isinstance(e, OrderPlaced) for e in mixed_log)
    assert report.duplicates_delivered > 300
    assert report.compared_after_catch_up > 0
    assert report.mismatches == []


def test_redeliveries_come_1_to_200_deliveries_after_the_first() -> None:
    events = heavy_customer(300, 30, seed=1)
    delivered = delivery_order(events, 0, 0.5, seed=2, redelivery_gap=200)
    first: dict[str, int] = {}
    gaps = []
    for index, event in enumerate(delivered):
        if event.event_id in first:
            gaps.append(index - first[event.event_id])
        first.setdefault(event.event_id, index)
    assert len(gaps) > 100
    assert 1 <= min(gaps) and max(gaps) <= 200 + len(gaps)  # later redeliveries push others on
    assert max(gaps) > 150


def test_window_counts_of_the_heavy_customer_are_exact(mixed_log: list[InputEvent]) -> None:
    """Every window count of every order of the 2,000-order customer, offline (replay) and
    online (the store after a late, duplicated delivery), against the raw events."""
    pandas = pytest.importorskip("pandas")
    raw = pandas.DataFrame(
        [
            {"order": e.event_id, "at": epoch(e.occurred_at)}
            for e in mixed_log
            if isinstance(e, OrderPlaced) and e.customer_id == "whale"
        ]
    )
    times = sorted(raw["at"])
    checked = 0
    for placed, values, _ in replay_orders(mixed_log, CONFIG):
        if placed.customer_id != "whale":
            continue
        moment = epoch(placed.occurred_at)
        since = raw[raw["at"] < moment]
        for window in WINDOWS:
            expected = int((since["at"] // DAY >= moment // DAY - window).sum())
            assert (
                values[f"orders_count_{window}d"]
                == expected
                == (orders_in_window(times, moment, window))
            )
        assert values["orders_count_lifetime"] == len(since)
        checked += 1
    assert checked == 2_000
    assert max(orders_in_window(times, t, 30) for t in times) > 256  # the old cap would cut it

    # The state a late, duplicated online delivery leaves is the offline one byte for byte.
    whale = [e for e in mixed_log if e.customer_id == "whale"]
    online, offline = CustomerState(), CustomerState()
    for event in delivery_order(whale, 2 * DAY, 0.2, seed=5, redelivery_gap=200):
        apply_event(online, event, CONFIG)
    for event in whale:
        apply_event(offline, event, CONFIG)
    assert encode_state(online) == encode_state(offline)
    end = times[-1] + DAY
    probe = order(datetime.fromtimestamp(end, tz=at(0).tzinfo), "probe", customer="whale")
    read = feature_values(online, probe, CONFIG)
    for window in WINDOWS:
        assert read[f"orders_count_{window}d"] == orders_in_window(times, end, window)


def five_thousand_orders() -> Iterator[InputEvent]:
    yield from heavy_customer(5_000, 365, seed=11)


def test_memory_of_a_5000_order_customer_is_bounded_by_days() -> None:
    state = CustomerState()
    events = list(five_thousand_orders())
    for event in events:
        assert apply_event(state, event, CONFIG) is Outcome.APPLIED
    newest_day = state.newest[Kind.ORDER] // DAY
    kept_days = detail_days(Kind.ORDER, CONFIG)
    assert all(o.at // DAY >= newest_day - kept_days for o in state.orders)
    for tiles in (state.order_tiles, state.return_tiles, state.receipt_tiles):
        assert len(tiles) <= RETENTION_DAYS[Kind.ORDER] + CONFIG.grace_days + 1
        assert [t.day for t in tiles] == sorted({t.day for t in tiles})  # one tile a day
    assert state.receipts == [] or all(
        r.at // DAY >= state.newest[Kind.RECEIPT] // DAY - detail_days(Kind.RECEIPT, CONFIG)
        for r in state.receipts
    )
    orders = sum(t.orders for t in state.order_tiles) + len(state.orders)
    assert orders + state.expired_orders == 5_000  # nothing dropped to save memory
    size = len(encode_state(state))
    # Documented worst case for this customer (README "Memory"): orders of the last 98 days in
    # full plus a year of tiles; a year of records in full would be about four times more.
    assert size < 250_000, size
    assert decode_state(encode_state(state)) == state


def test_memory_of_tiles_does_not_grow_with_orders_per_day() -> None:
    """A day of 10 orders and a day of 300 orders cost the same once tiled."""
    sizes = []
    for per_day in (10, 300):
        state = CustomerState()
        for d in range(200):
            for n in range(per_day if d < 50 else 1):
                apply_event(state, order(at(d, hours=n / 60), f"o{d}-{n}"), CONFIG)
        assert len(state.order_tiles) <= 200 - detail_days(Kind.ORDER, CONFIG)
        sizes.append(len(encode_state(state)))
    assert sizes[1] < sizes[0] + 50 * 12  # a few bytes more per tile for larger sums


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    duplicate_share=st.floats(0, 0.5),
    gap=st.integers(1, 200),
)
def test_any_delivery_within_grace_gives_the_same_state_byte_for_byte(
    seed: int, duplicate_share: float, gap: int
) -> None:
    """A 400-day history (tiles formed, expired, return requests matched across arrival
    orders, bursts): any delivery late by up to the grace period, with redeliveries up to
    `gap` deliveries later, leaves the state time-ordered delivery leaves."""
    events = heavy_customer(150, 400, seed=seed % 1000)
    arrivals = delivery_order(
        events, CONFIG.grace_days * DAY, duplicate_share, seed, redelivery_gap=gap
    )
    in_order, shuffled = CustomerState(), CustomerState()
    for event in events:
        apply_event(in_order, event, CONFIG)
    for event in arrivals:
        apply_event(shuffled, event, CONFIG)
    assert in_order.order_tiles  # the history reached the tiles
    assert encode_state(shuffled) == encode_state(in_order)
