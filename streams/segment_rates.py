"""Rolling return rates per segment, shared by every worker, for the return-spike alert.

Each segment has one Redis hash, `{prefix}:{<segment>}`, with a counter per event-time day:
`o:<day>` orders scored in the segment, `r:<day>` commercial return requests. A batch adds
its counts and reads back the window in the pipeline that also writes its held events: one
round trip. Counts are at most once: a
redelivered event is recognised as a duplicate by the feature state and not counted again,
and increments lost to a crash between the feature write and this one are not replayed. That
is fine for an alarm that compares a week of traffic with a baseline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster

from features.units import DAY
from streams import metrics

_TTL_DAYS = 60


@dataclass(frozen=True, slots=True)
class WindowRate:
    segment: str
    orders: int
    returns: int
    until_day: int

    @property
    def rate(self) -> float:
        return self.returns / self.orders if self.orders else 0.0


class SegmentRates:
    def __init__(self, client: redis.Redis | RedisCluster, prefix: str, window_days: int) -> None:
        self._client, self._prefix, self._window = client, prefix, window_days

    def queue_record(
        self, pipe: Any, counts: Iterable[tuple[str, int, bool]]
    ) -> Callable[[Sequence[Any]], list[WindowRate]]:
        """Queue on `pipe` adding (segment, event time, is_return) counts and reading back the
        windows. Returns what turns the replies to these commands (the pipeline's, from the
        first queued here) into the window rate of each segment touched, as of the newest day
        it saw in this batch."""
        increments = Counter((segment, at // DAY, is_return) for segment, at, is_return in counts)
        newest: dict[str, int] = {}
        for (segment, day, is_return), count in increments.items():
            key = f"{self._prefix}:{{{segment}}}"
            pipe.hincrby(key, f"{'r' if is_return else 'o'}:{day}", count)
            pipe.expire(key, _TTL_DAYS * DAY)
            newest[segment] = max(newest.get(segment, day), day)
        for segment, day in newest.items():
            days = range(day - self._window + 1, day + 1)
            fields = [f"o:{d}" for d in days] + [f"r:{d}" for d in days]
            pipe.hmget(f"{self._prefix}:{{{segment}}}", fields)

        def rates(replies: Sequence[Any]) -> list[WindowRate]:
            windows = replies[2 * len(increments) : 2 * len(increments) + len(newest)]
            found = []
            for (segment, day), values in zip(newest.items(), windows, strict=True):
                days = [int(v) if v else 0 for v in values]
                orders, returns = sum(days[: self._window]), sum(days[self._window :])
                found.append(WindowRate(segment, orders, returns, day))
            return found

        return rates

    def claim_alert(self, window: WindowRate, cooldown_hours: float) -> bool:
        """True once per cooldown and segment (first worker to claim it wins)."""
        cooldown_days = max(1, int(cooldown_hours // 24))
        key = f"{self._prefix}:{{{window.segment}}}"
        field = f"alerted:{window.until_day // cooldown_days}"
        with metrics.REDIS_SECONDS.time():
            return bool(self._client.hsetnx(key, field, 1))
