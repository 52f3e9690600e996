"""The Redis feature store: one hash per customer, read and written once per micro-batch.

Key: `{prefix}:{<customer_id>}` — the braces make it a Redis Cluster hash tag, so a customer's
hash lives in one slot. Fields: `v`, a version for compare-and-set; `s`, the msgpack-encoded
`CustomerState`; `m`, the opaque memo the stream keeps beside it (alert cooldowns, offer caps),
written in the same compare-and-set. A batch is read with pipelined HMGETs and written with a
small Lua script that sets every state whose version is unchanged, atomically, and reports the
others. All feature arithmetic stays in Python (features/state.py, features/vector.py), shared
with the offline replay.

A standalone Redis takes the whole batch in one script call. On a Redis Cluster a script may only
touch keys of one slot, so the batch becomes one call per slot; still atomic per customer, which
is all compare-and-set needs. Either way each direction is one pipeline, which redis-py sends as
one request per node: one round trip per node.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError

from features.codec import decode_state, encode_state
from features.state import CustomerState
from features.store import Stored

logger = logging.getLogger(__name__)

# KEYS: customer keys. ARGV[1]: TTL seconds (0: none); then per key: version read, state, memo.
_COMPARE_AND_SET = """
local ttl = tonumber(ARGV[1])
local conflicts = {}
for i, key in ipairs(KEYS) do
  local expected = ARGV[3 * i - 1]
  local current = redis.call('HGET', key, 'v') or '0'
  if current == expected then
    redis.call('HSET', key, 'v', tostring(tonumber(expected) + 1), 's', ARGV[3 * i],
               'm', ARGV[3 * i + 1])
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  else
    conflicts[#conflicts + 1] = i
  end
end
return conflicts
"""
_SHA = hashlib.sha1(_COMPARE_AND_SET.encode(), usedforsecurity=False).hexdigest()

# A command to pipeline, with the hash slot of the keys it touches (its cluster node owns it).
_Routed = tuple[int, tuple[Any, ...]]


class RedisFeatureStore:
    """`FeatureStore` on a standalone Redis or a Redis Cluster.

    `round_trips` counts request/reply exchanges with one server: one per pipeline on a
    standalone Redis, one per node the pipeline reaches on a cluster (redis-py writes to every
    node before reading any reply, so those overlap). `on_round_trip` gets each pipeline's wall
    time. Not counted: redirections while a cluster reshards, which redis-py retries one command
    at a time.
    """

    def __init__(
        self,
        client: redis.Redis | RedisCluster,
        *,
        prefix: str = "rr:c",
        ttl_seconds: int = 400 * 86_400,
        on_round_trip: Callable[[float], None] | None = None,
    ) -> None:
        self._client = client
        self._cluster = client if isinstance(client, RedisCluster) else None
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._on_round_trip = on_round_trip
        self.round_trips = 0
        # The first save sends the script's body (EVAL caches it on each node it reaches), later
        # ones its SHA, so a fresh server costs no extra round trip to learn the script.
        self._script_cached = False

    def key(self, customer_id: str) -> str:
        return f"{self._prefix}:{{{customer_id}}}"

    def load(self, customer_ids: Iterable[str]) -> dict[str, Stored]:
        customers = list(dict.fromkeys(customer_ids))
        keys = [self.key(customer) for customer in customers]
        replies = self._pipelined(
            [(self._slot(key), ("HMGET", key, "v", "s", "m")) for key in keys]
        )
        loaded = {}
        for customer, (version, blob, memo) in zip(customers, replies, strict=True):
            state = decode_state(blob) if blob else CustomerState()
            loaded[customer] = Stored(state, int(version) if version else 0, memo or b"")
        return loaded

    def save(self, changed: Mapping[str, Stored]) -> set[str]:
        if not changed:
            return set()
        by_slot: dict[int, list[str]] = {}
        for customer in changed:
            by_slot.setdefault(self._slot(self.key(customer)), []).append(customer)
        groups = list(by_slot.values())
        calls = [(slot, self._script_args(group, changed)) for slot, group in by_slot.items()]
        replies = self._run_script(calls, by_sha=self._script_cached)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:  # a restarted or new node, or SCRIPT FLUSH: resend those calls by body
            logger.info("compare-and-set script not cached for %d calls; resent", len(missing))
            resent = self._run_script([calls[i] for i in missing], by_sha=False)
            for i, reply in zip(missing, resent, strict=True):
                replies[i] = reply
        self._script_cached = True
        lost = {
            group[int(i) - 1]
            for group, conflicts in zip(groups, replies, strict=True)
            for i in conflicts
        }
        for customer, stored in changed.items():
            if customer not in lost:
                stored.version += 1
        if lost:
            logger.info("compare-and-set lost for %d customers; they will be retried", len(lost))
        return lost

    def memory_usage(self, customer_id: str) -> int | None:
        """Bytes Redis uses for one customer (`MEMORY USAGE`), for capacity planning."""
        usage = self._client.memory_usage(self.key(customer_id), samples=0)
        return int(usage) if usage is not None else None

    def _slot(self, key: str) -> int:
        """The key's hash slot; a standalone Redis is treated as one slot, so one script call."""
        return int(self._cluster.keyslot(key)) if self._cluster else 0  # type: ignore[no-untyped-call]

    def _script_args(self, customers: list[str], changed: Mapping[str, Stored]) -> tuple[Any, ...]:
        """What follows the script in EVAL/EVALSHA: key count, keys, TTL, version/state pairs."""
        keys = [self.key(customer) for customer in customers]
        args: list[Any] = [self._ttl]
        for customer in customers:
            stored = changed[customer]
            args += [stored.version, encode_state(stored.state), stored.memo]
        return (len(keys), *keys, *args)

    def _run_script(self, calls: list[_Routed], *, by_sha: bool) -> list[Any]:
        script = ("EVALSHA", _SHA) if by_sha else ("EVAL", _COMPARE_AND_SET)
        return self._pipelined([(slot, (*script, *rest)) for slot, rest in calls])

    def _pipelined(self, commands: list[_Routed]) -> list[Any]:
        """Replies to `commands` sent in one pipeline; NOSCRIPT errors are returned for the
        caller to resend, any other error is raised."""
        if not commands:
            return []
        nodes = [self._node(slot) for slot, _ in commands]
        pipe = self._client.pipeline(transaction=False)
        for (_, command), node in zip(commands, nodes, strict=True):
            # Naming the node: redis-py would otherwise ask the server for each EVAL's keys
            # (COMMAND GETKEYS) to route it, one extra round trip per call.
            pipe.execute_command(*command, **({"target_nodes": node} if node else {}))
        started = time.perf_counter()
        replies: list[Any] = pipe.execute(raise_on_error=False)
        elapsed = time.perf_counter() - started
        self.round_trips += len({node.name for node in nodes if node}) or 1  # standalone: 1
        if self._on_round_trip:
            self._on_round_trip(elapsed)
        for reply in replies:
            if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
                raise reply
        return replies

    def _node(self, slot: int) -> ClusterNode | None:
        """The cluster node serving `slot`, per the client's slot table (None: standalone)."""
        return self._cluster.nodes_manager.get_node_from_slot(slot) if self._cluster else None
