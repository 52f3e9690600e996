"""Event-time alignment of the co-partitioned input topics: when may an order be scored?

A feature counts every event of its customer strictly before the order, from all four input
topics. A worker catching up on a backlog reads those topics at very different event-time
speeds (one fetch of orders spans days, one fetch of campaign touches minutes), so an order
can arrive before touches that precede it. An event is applied (and an order scored) once
every input topic of its partition has been read past its time, its partition's watermark;
until then it is held back (streams/held.py). Holding back every kind of event, not only the
orders, keeps exactness however far a topic is read ahead: no customer's state runs ahead of
the watermark, so nothing an order needs can have been pruned.

A topic partition stops holding the watermark back when it has been read up to the high-water
mark of its latest fetch (caught up: what arrives next is newer). One that has delivered
nothing since it was assigned stops holding only when it has nothing to deliver: the offset it
started from (the group's committed offset) has reached its high-water mark. Neither idleness
nor the consumer's fetch position will do: faust drains whole fetches into its own buffers and
can leave a backlogged topic undelivered for seconds while it hands out another. (A partition
whose last records are transaction markers never counts as caught up; the input topics here
are written without transactions.)
Nothing is paused: faust's `pause_partitions` is not safe on a running consumer (its fetcher
thread may already have drained the partition's records, which faust then drops while the
position has moved past them). What is held is bounded by the backlog being read and shown by
`returnrisk_held_events`; with nothing behind, nothing is held. Each topic partition is
assumed to be in event-time order, as producers that write events as they happen make it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ConsumerOffsets:
    """What the consumer knows of each assigned input topic partition: the high-water mark of
    its latest fetch, and the offset it started from in this generation (the group's committed
    offset, else the earliest one; needed only for partitions that have delivered nothing);
    None where unknown."""

    highwaters: Mapping[TopicPartition, int | None]
    starts: Mapping[TopicPartition, int | None]


@dataclass(slots=True)
class _Read:
    offset: int = -1
    newest: float = -math.inf  # event time of the newest record read (epoch seconds)


class Alignment:
    def __init__(self, topics: Sequence[str]) -> None:
        self._topics = tuple(topics)
        self._read: dict[TopicPartition, _Read] = {}

    def reset(self) -> None:
        """Forget what was read: after a rebalance the partitions are read again from their
        committed offsets."""
        self._read.clear()

    def track(self, partitions: Iterable[int]) -> None:
        """Align assigned partitions, before any of their records arrive."""
        for partition in partitions:
            for topic in self._topics:
                self._read.setdefault((topic, partition), _Read())

    def observe(self, topic: str, partition: int, offset: int, event_time: float | None) -> None:
        """One record read; `event_time` is None for a record that failed validation."""
        read = self._read.get((topic, partition))
        if read is None:
            self.track((partition,))
            read = self._read[(topic, partition)]
        read.offset = max(read.offset, offset)
        if event_time is not None:
            read.newest = max(read.newest, event_time)

    def watermark(self, partition: int, offsets: ConsumerOffsets) -> float:
        """Every event of the partition before this time has been read."""
        self.track((partition,))
        mark = math.inf
        for topic in self._topics:
            if not self._caught_up(topic, partition, offsets):
                mark = min(mark, self._read[(topic, partition)].newest)
        return mark

    def watermarks(self, offsets: ConsumerOffsets) -> dict[int, float]:
        partitions = {p for _, p in self._read} | {p for _, p in offsets.highwaters}
        return {p: self.watermark(p, offsets) for p in partitions}

    def _caught_up(self, topic: str, partition: int, offsets: ConsumerOffsets) -> bool:
        read = self._read[(topic, partition)]
        highwater = offsets.highwaters.get((topic, partition))
        if highwater is None:
            return False
        if read.offset >= 0:
            return read.offset + 1 >= highwater
        start = offsets.starts.get((topic, partition))
        return highwater == 0 or (start is not None and start >= highwater)
