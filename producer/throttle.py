"""Pace sends to a rate in events per second, for demos that should look like live traffic."""

from __future__ import annotations

import time
from collections.abc import Callable

# Sleeping once per event costs a timer each; only pause when this far ahead of schedule.
_MIN_PAUSE_S = 0.005


class RateLimiter:
    """`pause_after_send()` says how long to wait before the next send to keep `rate` on
    average; 0 means no limit.

    The schedule is anchored at the first send, so a slow moment is caught up afterwards rather
    than lowering the average.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0 events/s, got {rate}")
        self._rate = rate
        self._clock = clock
        self._start: float | None = None
        self._sent = 0

    def pause_after_send(self) -> float:
        if not self._rate:
            return 0.0
        now = self._clock()
        if self._start is None:
            self._start = now
        self._sent += 1
        ahead = self._start + self._sent / self._rate - now
        return ahead if ahead >= _MIN_PAUSE_S else 0.0
