"""The Redis feature store: one hash per customer, read and written once per micro-batch.

Key: `{prefix}:{<customer_id>}` — the braces make it a Redis Cluster hash tag. Fields: `v`, a
version for compare-and-set, and `s`, the msgpack-encoded `CustomerState`. A batch is read with
one pipelined HMGET round trip and written with one call of a small Lua script that sets every
state whose version is unchanged, atomically, and reports the others. All feature arithmetic
stays in Python (features/state.py, features/vector.py), shared with the offline replay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis

from features.codec import decode_state, encode_state
from features.state import CustomerState
from features.store import Stored

logger = logging.getLogger(__name__)

# KEYS: customer keys. ARGV[1]: TTL seconds (0: none); then per key: version read, new state.
_COMPARE_AND_SET = """
local ttl = tonumber(ARGV[1])
local conflicts = {}
for i, key in ipairs(KEYS) do
  local expected = ARGV[2 * i]
  local current = redis.call('HGET', key, 'v') or '0'
  if current == expected then
    redis.call('HSET', key, 'v', tostring(tonumber(expected) + 1), 's', ARGV[2 * i + 1])
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  else
    conflicts[#conflicts + 1] = i
  end
end
return conflicts
"""


class RedisFeatureStore:
    """`FeatureStore` on Redis; counts round trips so benchmarks can report them."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "rr:c",
        ttl_seconds: int = 400 * 86_400,
        on_round_trip: Callable[[float], None] | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._cas: Any = client.register_script(_COMPARE_AND_SET)
        self._on_round_trip = on_round_trip
        self.round_trips = 0

    def _timed(self, started: float) -> None:
        self.round_trips += 1
        if self._on_round_trip:
            self._on_round_trip(time.perf_counter() - started)

    def key(self, customer_id: str) -> str:
        return f"{self._prefix}:{{{customer_id}}}"

    def load(self, customer_ids: Iterable[str]) -> dict[str, Stored]:
        customers = list(dict.fromkeys(customer_ids))
        pipe = self._client.pipeline(transaction=False)
        for customer in customers:
            pipe.hmget(self.key(customer), "v", "s")
        started = time.perf_counter()
        replies = pipe.execute()
        self._timed(started)
        loaded = {}
        for customer, (version, blob) in zip(customers, replies, strict=True):
            state = decode_state(blob) if blob else CustomerState()
            loaded[customer] = Stored(state, int(version) if version else 0)
        return loaded

    def save(self, changed: Mapping[str, Stored]) -> set[str]:
        if not changed:
            return set()
        customers = list(changed)
        args: list[Any] = [self._ttl]
        for customer in customers:
            stored = changed[customer]
            args += [stored.version, encode_state(stored.state)]
        started = time.perf_counter()
        conflicts = self._cas(keys=[self.key(c) for c in customers], args=args)
        self._timed(started)
        lost = {customers[int(i) - 1] for i in conflicts}
        for customer in customers:
            if customer not in lost:
                changed[customer].version += 1
        if lost:
            logger.info("compare-and-set lost for %d customers; they will be retried", len(lost))
        return lost

    def memory_usage(self, customer_id: str) -> int | None:
        """Bytes Redis uses for one customer (`MEMORY USAGE`), for capacity planning."""
        usage = self._client.memory_usage(self.key(customer_id), samples=0)
        return int(usage) if usage is not None else None
