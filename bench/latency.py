"""End-to-end latency of the worker, from the input record's send to its score's send.

Both times are Kafka CreateTimes, set by the sending client on this machine (the bench's
producer, then the worker's), so no clock differs. The worker's own
`returnrisk_end_to_end_latency_seconds` measures from the *simulated* event time, which lies
months in the past here, so it cannot serve; this measures the same path, minus event time.

Records are matched as they are read (`Matcher`), so the bench keeps one send time per scored
input and one latency per score, never the records themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Percentiles:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(slots=True)
class Matcher:
    """Send times of the inputs sent at or after `since_ms`, then the latency of each score
    whose source is one of them."""

    since_ms: int
    sent_at: dict[str, int] = field(default_factory=dict)
    """CreateTime of each input sent in the phase, by event_id."""
    latencies_ms: list[int] = field(default_factory=list)
    first_score_ms: int | None = None
    last_score_ms: int | None = None

    def add_input(self, sent_ms: int, value: bytes) -> None:
        if sent_ms >= self.since_ms:
            self.sent_at[json.loads(value)["event_id"]] = sent_ms

    def add_score(self, scored_ms: int, value: bytes) -> None:
        source = self.sent_at.get(json.loads(value)["source_event_id"])
        if source is None:
            return
        self.latencies_ms.append(scored_ms - source)
        if self.first_score_ms is None or scored_ms < self.first_score_ms:
            self.first_score_ms = scored_ms
        if self.last_score_ms is None or scored_ms > self.last_score_ms:
            self.last_score_ms = scored_ms

    @property
    def scores_span_s(self) -> float:
        """From the first to the last matched score's send."""
        if self.first_score_ms is None or self.last_score_ms is None:
            return 0.0
        return (self.last_score_ms - self.first_score_ms) / 1000


def percentiles(values: list[int]) -> Percentiles:
    if not values:
        raise ValueError("latency: no score matched an input event sent in the latency phase")
    p50, p95, p99 = np.percentile(np.asarray(values, dtype=float), [50, 95, 99])
    return Percentiles(len(values), float(p50), float(p95), float(p99), float(max(values)))
