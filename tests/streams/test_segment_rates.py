"""Rolling per-segment return rates in Redis, and the spike alert built on them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from features.units import DAY
from streams.segment_rates import SegmentRates, WindowRate

pytestmark = pytest.mark.integration


class Rates(SegmentRates):
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        super().__init__(client, prefix, window_days=7)
        self.client = client

    def record(self, counts: list[tuple[str, int, bool]]) -> list[WindowRate]:
        """One round trip with something else queued before, as the pipeline does."""
        pipe: Any = self.client.pipeline(transaction=False)
        pipe.ping()
        rates = self.queue_record(pipe, counts)
        return rates(pipe.execute()[1:])


@pytest.fixture
def rates(redis_url: str) -> Iterator[Rates]:
    client = redis.Redis.from_url(redis_url)
    prefix = f"rr:test:{uuid.uuid4().hex[:8]}"
    yield Rates(client, prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.unlink(key)


def test_window_counts_orders_and_returns_of_the_last_days(rates: Rates) -> None:
    day0 = 20_000 * DAY
    rates.record([("new", day0 - 8 * DAY, False)] * 5)  # outside the 7-day window later
    rates.record([("new", day0 - DAY, False)] * 10 + [("vip", day0, False)] * 4)
    (new, vip) = sorted(
        rates.record([("new", day0, True)] * 3 + [("vip", day0, True)]), key=lambda w: w.segment
    )
    assert (new.orders, new.returns, new.rate) == (10, 3, 0.3)
    assert (vip.orders, vip.returns) == (4, 1)


def test_an_alert_is_claimed_once_per_cooldown(rates: Rates) -> None:
    (window,) = rates.record([("new", 20_000 * DAY, False)])
    assert rates.claim_alert(window, cooldown_hours=24)
    assert not rates.claim_alert(window, cooldown_hours=24)
