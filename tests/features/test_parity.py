"""The online path (micro-batches through a store, late and duplicated) equals the replay."""

from __future__ import annotations

import pytest

from features.config import FeatureConfig
from features.parity import delivery_order, run_parity
from features.store import MemoryFeatureStore
from tests.fixtures.histories import random_history

CONFIG = FeatureConfig()


@pytest.mark.parametrize("live", [False, True], ids=["encoded", "live"])
@pytest.mark.parametrize(
    ("seed", "lateness_s", "duplicates"), [(1, 0, 0.0), (2, 86_400, 0.05), (3, 6 * 86_400, 0.3)]
)
def test_memory_store_parity(seed: int, lateness_s: float, duplicates: float, live: bool) -> None:
    """Both memory stores, the one holding encoded states and the live one (which batches
    change in place), give every order the offline replay's features."""
    events = random_history(customers=40, days=120, seed=seed)
    report = run_parity(
        events,
        MemoryFeatureStore(live=live),
        CONFIG,
        max_lateness_s=lateness_s,
        duplicate_share=duplicates,
        batch_size=37,
        seed=seed,
    )
    orders = sum(1 for e in events if e.event_type == "order_placed")
    assert report.orders_compared == orders
    assert report.mismatches == []
    if lateness_s:
        assert report.compared_after_catch_up > 0  # the check really met late events


def test_delivery_is_late_within_bound_and_duplicates_some() -> None:
    events = random_history(customers=20, days=60, seed=4)
    delivered = delivery_order(events, 3600, 0.1, seed=4)
    assert len(delivered) > len(events)
    assert {e.event_id for e in delivered} == {e.event_id for e in events}
    assert delivered != events
    newest = 0.0
    for event in delivered:
        newest = max(newest, event.occurred_at.timestamp())
        assert newest - event.occurred_at.timestamp() <= 3600


def test_lateness_beyond_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="grace"):
        run_parity([], MemoryFeatureStore(), CONFIG, max_lateness_s=8 * 86_400, duplicate_share=0)


def test_a_broken_store_is_caught() -> None:
    """Parity must be able to fail: a store that forgets every other write."""

    class ForgetfulStore(MemoryFeatureStore):
        writes = 0

        def save(self, changed, deltas=None):  # type: ignore[no-untyped-def]
            self.writes += 1
            return set() if self.writes % 2 else super().save(changed, deltas)

    events = random_history(customers=10, days=60, seed=5)
    report = run_parity(
        events, ForgetfulStore(), CONFIG, max_lateness_s=0, duplicate_share=0, batch_size=10
    )
    assert report.mismatches
