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

Only redeliveries need it, and those come from the last uncommitted batches (a few seconds of
processing, however many days of event time a replay or backfill covers in them): the rows of
a customer's newest `KEEP_ROWS` scored events are kept, about 250 bytes each. An event
redelivered after that many newer events of its customer were scored is scored again from the
state (as before); `returnrisk_redelivered_total{answer="recomputed"}` counts those.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack

from features.state import event_hash
from features.vector import FeatureValues, Value

KEEP_ROWS = 8
"""Rows kept per customer: more than one customer's scored events in a few uncommitted
batches, bar wholesale buyers placing many orders at once."""

Attributes = dict[str, str | bool | int | float]
_Entry = tuple[int, list[Any], list[Any], list[Any]]  # at, values, attribute names, attributes


class RememberedRows:
    """The rows of one customer's recent scores, by event; decoded from and encoded to bytes."""

    def __init__(self, blob: bytes) -> None:
        self._entries: dict[int, _Entry] = (
            {key: tuple(entry) for key, entry in msgpack.unpackb(blob)} if blob else {}
        )

    def remember(
        self, event_id: str, at: int, values: FeatureValues, attributes: Attributes
    ) -> None:
        """The row an event was first scored with; the oldest rows make room."""
        self._entries[event_hash(event_id)] = (
            at,
            [_compact(value) for value in values.values()],
            list(attributes),
            list(attributes.values()),
        )
        if len(self._entries) > KEEP_ROWS:
            kept = sorted(self._entries.items(), key=lambda item: item[1][0], reverse=True)
            self._entries = dict(kept[:KEEP_ROWS])

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
        packed: bytes = msgpack.packb(
            [[key, list(entry)] for key, entry in self._entries.items()], use_bin_type=True
        )
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
