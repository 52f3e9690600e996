"""What a customer's recent scores were computed from, so a redelivered event gets the same answer.

A feature counts only events strictly before its order, but "before" in event time is not
"known before" in arrival: an event of another topic that happened earlier can arrive after the
order was scored (input topics are only ordered per partition, and a caught-up topic cannot
say what is still on its way to the broker). The features in Redis then take it in, as the
offline replay does, but an order scored again after a redelivery (a worker killed, a partition
moved before its offsets were committed) would read the new event and get a different vector,
probability, band, alert or offer under the same `score_id`. A portal that deduplicates by
`score_id` would keep one of two answers at random.

So when an order or return request is first applied, its feature vector and profile attributes
are remembered beside the customer's state (`Stored.scored`, written in the same
compare-and-set, so it commits exactly when the event does), and a redelivery scores the
remembered row: outputs identical to the first delivery's, by construction.

Only redeliveries need it, and those reach back over the batches not committed yet: seconds of
processing normally, minutes through an outage or a stuck rebalance, but any number of a
customer's events and days of event time in a replay or backfill, where a batch of held events
can span months. So a row is kept for `RowMemory.keep_s` of processing (wall-clock) time after
it was first scored, pruned when its customer is next written, with at most `RowMemory.most`
rows per customer (about 250 bytes each; a customer not written again keeps only the rows of
its last writes). An event redelivered after its row was pruned is scored again from the state
(as before); `returnrisk_redelivered_total{answer="recomputed"}` counts those.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

from features.state import event_hash
from features.vector import FeatureValues, Value

Attributes = dict[str, str | bool | int | float]
_Entry = tuple[int, list[Any], list[Any], list[Any]]
"""When it was remembered (epoch seconds), values, attribute names, attribute values."""


@dataclass(frozen=True, slots=True)
class RowMemory:
    """How long rows are kept, and how many per customer."""

    keep_s: float = 900.0
    most: int = 256
    clock: Callable[[], float] = time.time

    @property
    def keeps(self) -> bool:
        """False for a replay that delivers every event once: nothing to remember."""
        return self.keep_s > 0


DEFAULT_MEMORY = RowMemory()


class RememberedRows:
    """The rows of one customer's recent scores, by event; decoded from and encoded to bytes."""

    def __init__(self, blob: bytes, memory: RowMemory) -> None:
        self._memory = memory
        self._entries: dict[int, _Entry] = (
            {key: tuple(entry) for key, entry in msgpack.unpackb(blob)} if blob else {}
        )
        self.changed = False
        """Something was remembered since the rows were decoded."""

    def remember(self, event_id: str, values: FeatureValues, attributes: Attributes) -> None:
        """The row an event was first scored with."""
        self._entries[event_hash(event_id)] = (
            int(self._memory.clock()),
            [_compact(value) for value in values.values()],
            list(attributes),
            list(attributes.values()),
        )
        self.changed = True

    def recall(
        self, event_id: str, values: FeatureValues
    ) -> tuple[FeatureValues, Attributes] | None:
        """The remembered row of an event, named as `values` (the same event's row computed
        now) names its features; None if none is kept or the feature set has changed since."""
        entry = self._entries.get(event_hash(event_id))
        if entry is None or len(entry[1]) != len(values):
            return None
        _, remembered, names, attributes = entry
        row = {name: _expand(value) for name, value in zip(values, remembered, strict=True)}
        return row, dict(zip(names, attributes, strict=True))

    def encode(self) -> bytes:
        """The rows to write: those past the memory's time go, and the oldest beyond its most."""
        since = self._memory.clock() - self._memory.keep_s
        kept = [[key, list(entry)] for key, entry in self._entries.items() if entry[0] >= since]
        packed: bytes = msgpack.packb(kept[-self._memory.most :], use_bin_type=True)
        return packed


def _compact(value: Value) -> Value | int:
    """Counts are whole floats: packed as integers they take 1-3 bytes instead of 9."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        if value or math.copysign(1.0, value) > 0:  # -0.0 stays a float
            return int(value)
    return value


def _expand(value: Value | int) -> Value:
    """Feature values are floats, strings or None (`features.vector.Value`): an integer was a
    whole float."""
    return float(value) if isinstance(value, int) else value
