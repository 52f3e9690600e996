"""Input events read ahead of their partition's watermark, held back in Redis until it passes.

The batch that read a held event ends and its offset may be committed, so this hash is the
event's only copy until it is applied: it is written before the batch ends and read again by
whichever worker owns the partition after a restart or a rebalance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster

from schemas import InputEvent, decode_event
from streams import metrics


class HeldEvents:
    def __init__(self, client: redis.Redis | RedisCluster, *, prefix: str) -> None:
        self._client, self._prefix = client, prefix

    def key(self, partition: int) -> str:
        return f"{self._prefix}:held:{partition}"

    def load(self, partitions: Sequence[int]) -> dict[int, dict[str, InputEvent]]:
        """The held events of these partitions, by event id (one round trip)."""
        pipe = self._client.pipeline(transaction=False)
        for partition in partitions:
            pipe.hgetall(self.key(partition))
        with metrics.REDIS_SECONDS.time():
            replies = pipe.execute()
        return {
            partition: {field.decode(): decode_event(value) for field, value in fields.items()}
            for partition, fields in zip(partitions, replies, strict=True)
        }

    def pipeline(self) -> Any:
        """A pipeline on the held events' Redis, for `queue_update` and other writes of the
        batch (one round trip for all of them)."""
        return self._client.pipeline(transaction=False)

    def queue_update(
        self,
        pipe: Any,
        added: Mapping[int, Mapping[str, bytes]],
        released: Mapping[int, Iterable[str]],
    ) -> None:
        """Queue on `pipe` holding new events (their raw bytes, by event id) and dropping
        released ones; the caller executes it before its batch ends."""
        for partition, raw in added.items():
            if raw:
                pipe.hset(self.key(partition), items=[x for pair in raw.items() for x in pair])
        for partition, event_ids in released.items():
            ids = list(event_ids)
            if ids:
                pipe.hdel(self.key(partition), *ids)
