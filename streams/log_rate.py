"""Repeated log lines at a bounded rate: an outage is logged once, then at most once per interval.

With the broker gone, aiokafka logs `Unable connect to node` about ten times every 100 ms, and
a batch retried against a stopped Redis logs each attempt. A line of the same logger and
message template is let through at most once per `interval_s`; the next one let through says
how many were held back. The cause stays visible and the log stays readable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable


class RepeatedLines(logging.Filter):
    """For a handler: limits the records of loggers under `sources` (e.g. "aiokafka")."""

    def __init__(
        self,
        interval_s: float,
        sources: Iterable[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._interval_s, self._clock = interval_s, clock
        self._sources = tuple(sources)
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # when let through, held back

    def filter(self, record: logging.LogRecord) -> bool:
        if not any(record.name == s or record.name.startswith(f"{s}.") for s in self._sources):
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self._interval_s:
            self._last[key] = (last[0], last[1] + 1)
            return False
        held_back = last[1] if last else 0
        self._last[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} ({held_back} more like this in the last %.0f s)"
            record.args = (*_as_tuple(record.args), now - last[0]) if last else record.args
        return True


def _as_tuple(args: object) -> tuple[object, ...]:
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)


def limit_repeated_lines(sources: Iterable[str], interval_s: float) -> None:
    """Limit the lines of these loggers and their children on every handler of the root logger
    (a logger's own filters would miss its children's records)."""
    limit = RepeatedLines(interval_s, sources)
    for handler in logging.getLogger().handlers:
        handler.addFilter(limit)
