"""The rate limiter's schedule, with a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from producer.throttle import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_rate_never_pauses() -> None:
    limiter = RateLimiter(0, FakeClock())
    assert all(limiter.pause_after_send() == 0 for _ in range(1000))


def test_pauses_keep_the_average_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock)

    assert limiter.pause_after_send() == pytest.approx(0.01)
    for _ in range(9):
        limiter.pause_after_send()
    assert limiter.pause_after_send() == pytest.approx(0.11)  # 11 sends due over 0.11 s


def test_a_slow_moment_is_caught_up_without_pausing() -> None:
    clock = FakeClock()
    limiter = RateLimiter(100, clock)
    limiter.pause_after_send()
    clock.now += 1.0  # one second with nothing sent: 100 sends are now due

    assert [limiter.pause_after_send() for _ in range(99)] == [0.0] * 99  # sends 2..100
    assert limiter.pause_after_send() == pytest.approx(0.01)  # send 101 is ahead again


def test_small_leads_do_not_sleep() -> None:
    limiter = RateLimiter(1000, FakeClock())  # 1 ms per send: below the pause threshold
    assert limiter.pause_after_send() == 0.0


def test_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate must be >= 0"):
        RateLimiter(-1)
