"""End-to-end latency of the worker, from the input record's send to its score's send.

Both times are Kafka CreateTimes, set by the sending client on this machine (the bench's
producer, then the worker's), so no clock differs. The worker's own
`returnrisk_end_to_end_latency_seconds` measures from the *simulated* event time, which lies
months in the past here, so it cannot serve; this measures the same path, minus event time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Percentiles:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def sent_at_by_event(records: Iterable[tuple[int, bytes]], since_ms: int) -> dict[str, int]:
    """CreateTime of each input event sent at or after `since_ms`, by event_id."""
    return {json.loads(value)["event_id"]: sent for sent, value in records if sent >= since_ms}


def latencies_ms(scores: Iterable[tuple[int, bytes]], sent_at: dict[str, int]) -> list[int]:
    """Score CreateTime minus its source event's CreateTime, for sources in `sent_at`."""
    found = []
    for scored, value in scores:
        source = sent_at.get(json.loads(value)["source_event_id"])
        if source is not None:
            found.append(scored - source)
    return found


def percentiles(values: list[int]) -> Percentiles:
    if not values:
        raise ValueError("latency: no score matched an input event sent in the latency phase")
    p50, p95, p99 = np.percentile(np.asarray(values, dtype=float), [50, 95, 99])
    return Percentiles(len(values), float(p50), float(p95), float(p99), float(max(values)))
