"""Across partitions: an event is applied only once every input partition is complete for the
days before its own, so the catalog it reads is the offline replay's.

The catalog (features/catalog.py) counts every customer's sales and returns per product and
day, and an order reads the days before its own. Those counts come from every partition, read
by every worker at its own pace: in a backlog one partition can be weeks ahead of another.
Alignment within a partition (streams/alignment.py) cannot see that, so each worker publishes,
per assigned partition, how far it is complete, and holds back (streams/held.py) any event of
a later day than the least complete partition's:

- A partition is complete before C = min(its watermark, its earliest held event): everything
  of it earlier than C has been applied (its events are read in time order, and the ones
  read and not held are applied by the batch that publishes C).
- The shop is complete before G = min over all input partitions; a partition no worker has
  published yet counts as not started. An event of day D may be applied once G reaches the
  start of D: every partition then has applied everything of the days before D.

C is published after the batch's features are written, and the others' read in the same
round trip (the batch's last): a batch gates on what other workers published by the batch
before (late, never early), and on its own partitions as they are read, since it applies all
their events up to the limit itself, in time order. With every partition caught up (C is
infinite) nothing waits; in a backlog, workers move through it no further apart than a day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import redis
from redis.cluster import RedisCluster

from features.units import DAY


def end_of_day(moment: float) -> float:
    """The last second of the UTC day of `moment` (infinite moments stay as they are)."""
    return moment if math.isinf(moment) else (moment // DAY + 1) * DAY - 1


class CatalogGate:
    def __init__(self, client: redis.Redis | RedisCluster, *, prefix: str) -> None:
        self._client = client
        self._key = f"{prefix}:complete"
        self._published: dict[int, float] = {}
        """C per partition, as last read."""

    def release_limit(self, read_up_to: Mapping[int, float], partitions: int) -> float:
        """Events up to this time may be applied now: the end of the day the shop is complete
        in. This worker's own partitions count with what they have read (everything read up
        to the limit is applied in this batch, in time order, before any later event reads
        the catalog), the others with what their workers last published."""
        others = [
            self._published.get(p, -math.inf) for p in range(partitions) if p not in read_up_to
        ]
        return end_of_day(min([*others, *read_up_to.values()], default=-math.inf))

    def queue(self, pipe: Any, complete: Mapping[int, float]) -> None:
        """Publish this worker's partitions (C per partition) and read everyone's."""
        if complete:
            pipe.hset(self._key, mapping={str(p): repr(c) for p, c in complete.items()})
        pipe.hgetall(self._key)

    def read(self, reply: Mapping[bytes, bytes] | Mapping[str, str]) -> None:
        """Keep what every worker has published."""
        self._published = {int(p): float(c) for p, c in reply.items()}
