"""Simulated time: timestamps, seasonal intensity and the position <-> time mapping."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.calendar import DAY, Calendar, build_calendar, covers
from simulator.config import SimulatorConfig


def _calendar(config: SimulatorConfig, start: date = date(2025, 1, 1), days: int = 365) -> Calendar:
    return build_calendar(config.seasonality, start, days)


def test_stamps_are_rfc3339_utc_inside_and_outside_the_window(
    default_config: SimulatorConfig,
) -> None:
    calendar = _calendar(default_config, days=10)
    assert calendar.stamp(0) == "2025-01-01T00:00:00Z"
    assert calendar.stamp(3 * DAY + 10 * 3600 + 15 * 60 + 7) == "2025-01-04T10:15:07Z"
    assert calendar.stamp(-1) == "2024-12-31T23:59:59Z"
    assert calendar.stamp(10 * DAY) == "2025-01-11T00:00:00Z"


def test_a_calendar_year_holds_one_year_of_average_intensity(
    default_config: SimulatorConfig,
) -> None:
    calendar = _calendar(default_config)
    assert abs(calendar.order_cum[-1] - 1.0) < 1e-9
    assert abs(calendar.touch_cum[-1] - 1.0) < 1e-9


def test_black_friday_is_busier_than_a_summer_day(default_config: SimulatorConfig) -> None:
    calendar = _calendar(default_config)
    cum = calendar.order_cum

    def weight(day: date) -> float:
        index = (day - calendar.start).days
        return cum[index + 1] - cum[index]

    assert weight(date(2025, 11, 28)) > 2.5 * weight(date(2025, 8, 1))


def test_gift_season_orders_return_from_after_christmas(default_config: SimulatorConfig) -> None:
    calendar = _calendar(default_config, start=date(2025, 7, 1))
    returns_from = (date(2025, 12, 27) - date(2025, 7, 1)).days * DAY
    assert calendar.gift_returns_from[(date(2025, 12, 1) - date(2025, 7, 1)).days] == returns_from
    assert calendar.gift_returns_from[(date(2025, 10, 1) - date(2025, 7, 1)).days] is None


def test_windows_may_wrap_the_year() -> None:
    assert covers("12-20", "01-05", date(2025, 1, 2))
    assert covers("12-20", "01-05", date(2025, 12, 31))
    assert not covers("12-20", "01-05", date(2025, 6, 1))
    assert covers("03-01", "03-01", date(2024, 3, 1))


@pytest.fixture(scope="module")
def year(default_config: SimulatorConfig) -> Calendar:
    return _calendar(default_config)


@given(x=st.floats(min_value=0.0, max_value=0.999_999, allow_nan=False))
def test_time_at_and_position_invert_each_other(year: Calendar, x: float) -> None:
    calendar = year
    t = calendar.time_at(calendar.order_cum, x * calendar.order_cum[-1])
    assert 0 <= t < calendar.end
    back = calendar.position(calendar.order_cum, t)
    assert calendar.time_at(calendar.order_cum, back) in (t, t - 1)


def test_time_at_keeps_positions_in_order(default_config: SimulatorConfig) -> None:
    calendar = _calendar(default_config)
    xs = [i / 10_000 for i in range(10_000)]
    times = [calendar.time_at(calendar.order_cum, x) for x in xs]
    assert times == sorted(times)
    hours = [t % DAY // 3600 for t in times]
    assert hours.count(20) > 3 * hours.count(4), "evenings are busier than nights"
