"""Simulated time: integer seconds since the log start, seasonal intensity and timestamps.

Times stay plain ints on the hot path (sorting, comparing, adding delays); they become RFC 3339
strings only when an event is written, through a per-day prefix so that a million timestamps
cost little. Seasonality is expressed as a cumulative intensity per day ("years of average
activity"), so a Poisson process with a yearly rate can be sampled by exponential steps on
that scale and mapped back to a day with a binary search.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from simulator.config import SeasonalityConfig, SeasonWindow

DAY = 86_400
_REFERENCE_YEAR = 2025  # a non-leap calendar year to normalise multipliers over


def _month_day(value: str) -> tuple[int, int]:
    month, day = value.split("-")
    return int(month), int(day)


def covers(start: str, end: str, when: date) -> bool:
    """Whether the recurring MM-DD window start..end (inclusive, may wrap the year) has `when`."""
    md, lo, hi = (when.month, when.day), _month_day(start), _month_day(end)
    return lo <= md <= hi if lo <= hi else md >= lo or md <= hi


def _multipliers(windows: list[SeasonWindow], when: date) -> tuple[float, float]:
    orders = touches = 1.0
    for window in windows:
        if covers(window.start, window.end, when):
            orders *= window.order_multiplier
            touches *= window.touch_multiplier
    return orders, touches


def _next_occurrence(month_day: str, after: date) -> date:
    month, day = _month_day(month_day)
    for year in range(after.year, after.year + 9):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 02-29 in a non-leap year
            continue
        if candidate >= after:
            return candidate
    raise ValueError(f"no date {month_day} after {after}")


def _cumulative(weights: list[float]) -> tuple[float, ...]:
    cum = [0.0]
    for weight in weights:
        cum.append(cum[-1] + weight / 365.0)
    return tuple(cum)


@dataclass(frozen=True, slots=True)
class Calendar:
    """The simulated window [0, end) in seconds from `start` (midnight UTC)."""

    start: date
    days: int
    order_cum: tuple[float, ...]
    touch_cum: tuple[float, ...]
    gift_returns_from: tuple[int | None, ...]
    hour_cum: tuple[float, ...]  # cumulative share of activity by UTC hour, 0.0 .. 1.0
    prefixes: tuple[str, ...]

    @property
    def end(self) -> int:
        return self.days * DAY

    def stamp(self, t: int) -> str:
        """RFC 3339 UTC timestamp of second `t`, e.g. '2025-03-01T10:15:00Z'."""
        day, second = divmod(t, DAY)
        if 0 <= day < self.days:
            hour, rest = divmod(second, 3600)
            minute, sec = divmod(rest, 60)
            return f"{self.prefixes[day]}{hour:02d}:{minute:02d}:{sec:02d}Z"
        moment = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return (moment + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def time_at(self, cum: tuple[float, ...], x: float) -> int:
        """The second at position `x` of a cumulative scale (`end` or later if past it).

        Within a day, the position is spread over the hourly activity profile, so a process
        sampled on `cum` is busy in the evening and quiet at night, and stays in time order.
        """
        day = bisect_right(cum, x) - 1
        if day >= self.days:
            return self.end
        share = (x - cum[day]) / (cum[day + 1] - cum[day])
        hour = min(bisect_right(self.hour_cum, share) - 1, 23)
        width = self.hour_cum[hour + 1] - self.hour_cum[hour]
        within = (share - self.hour_cum[hour]) / width if width > 0 else 0.0
        return day * DAY + min(hour * 3600 + int(within * 3600), DAY - 1)  # rounding stays in day

    def position(self, cum: tuple[float, ...], t: int) -> float:
        """Where second `t` lies on a cumulative scale; the inverse of `time_at`."""
        day, second = divmod(t, DAY)
        if day >= self.days:
            return cum[-1]
        hour, within = divmod(second, 3600)
        hours = self.hour_cum
        share = hours[hour] + (hours[hour + 1] - hours[hour]) * within / 3600
        return cum[day] + (cum[day + 1] - cum[day]) * share


def build_calendar(config: SeasonalityConfig, start: date, days: int) -> Calendar:
    """Daily order/touch intensities, gift-return dates and timestamp prefixes for a window."""
    reference = [date(_REFERENCE_YEAR, 1, 1) + timedelta(days=i) for i in range(365)]
    mean_orders = sum(_multipliers(config.windows, d)[0] for d in reference) / 365
    mean_touches = sum(_multipliers(config.windows, d)[1] for d in reference) / 365
    dates = [start + timedelta(days=i) for i in range(days)]
    order_w: list[float] = []
    touch_w: list[float] = []
    gift_from: list[int | None] = []
    for when in dates:
        orders, touches = _multipliers(config.windows, when)
        order_w.append(orders / mean_orders)
        touch_w.append(touches / mean_touches)
        if covers(config.gift.start, config.gift.end, when):
            gift_day = (_next_occurrence(config.gift.returns_from, when) - start).days
            gift_from.append(gift_day * DAY)
        else:
            gift_from.append(None)
    total = sum(config.hour_weights)
    hour_cum = [0.0]
    for weight in config.hour_weights:
        hour_cum.append(hour_cum[-1] + weight / total)
    hour_cum[-1] = 1.0
    return Calendar(
        start=start,
        days=days,
        order_cum=_cumulative(order_w),
        touch_cum=_cumulative(touch_w),
        gift_returns_from=tuple(gift_from),
        hour_cum=tuple(hour_cum),
        prefixes=tuple(d.isoformat() + "T" for d in dates),
    )
