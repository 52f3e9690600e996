"""The Redis feature store: one hash per customer, read and written once per micro-batch.

Key: `{prefix}:{<customer_id>}` — the braces make it a Redis Cluster hash tag, so a customer's
hash lives in one slot. Fields: `v`, a version for compare-and-set; `s`, the msgpack-encoded
`CustomerState`; `m`, the opaque memo the stream keeps beside it (alert cooldowns, offer caps).
Beside it, `{prefix}:{<customer_id>}:rows` holds the rows of the customer's recent scores
(features/redelivery.py) and expires `rows_ttl_seconds` after the customer's last write, so the
rows a replay or backfill leaves behind go away by themselves. All are written in the same
compare-and-set. The catalog (features/catalog.py: products', categories' and the shop's
daily counts, shared by all customers) is one hash per entry, `{prefix}:catalog:<key>`, read
with HGETALL in the same pipeline as the states and counted with HINCRBY in the same script
as the states that caused the counts (on a cluster, right after it). A batch is read with one
small Lua script and written with another that sets every state whose version is unchanged,
atomically, and reports the others. All feature arithmetic stays in Python (features/state.py,
features/vector.py), shared with the offline replay.

Decoding a state costs more than anything else the worker does per customer, so the store keeps
the states it wrote, decoded, by version (`cache_customers`, least recently used first out). The
read script returns only the version of a key whose version is the cached one, so a state comes
over the wire and is decoded only when someone else wrote it since, or it was evicted. Each write
sets a random version (`new_version`), so a Redis that lost writes (restarted from an older
snapshot or append-only file) cannot hand back a version a worker cached for other content.

A standalone Redis takes the whole batch in one script call. On a Redis Cluster a script may only
touch keys of one slot, so the batch becomes one call per slot; still atomic per customer, which
is all compare-and-set needs. Either way each direction is one pipeline, which redis-py sends as
one request per node: one round trip per node.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError

from features.catalog import Catalog, CatalogDelta, CatalogEntry
from features.codec import decode_state, encode_state
from features.state import CustomerState
from features.store import CatalogDeltas, Stored

logger = logging.getLogger(__name__)

# Catalog entries (features/catalog.py, `CatalogEntry.add`): counts per day in fields
# '<day>:<counter>', folded into 't:<counter>' once older than the grace period behind the
# entry's newest day ('n'); 'f' is the last folded day. Folding runs once per entry and call,
# after its deltas: the same totals as folding after each, as the Python rule does.
_CATALOG_FUNCTIONS = """
local function catalog_add(key, day, counter, amount)
  local folded = tonumber(redis.call('HGET', key, 'f') or '-1')
  if day <= folded then
    redis.call('HINCRBY', key, 't:' .. counter, amount)
  else
    redis.call('HINCRBY', key, day .. ':' .. counter, amount)
  end
  if day > tonumber(redis.call('HGET', key, 'n') or '-1') then
    redis.call('HSET', key, 'n', day)
  end
end
local function catalog_fold(key, grace, ttl)
  local limit = tonumber(redis.call('HGET', key, 'n')) - grace - 1
  if limit > tonumber(redis.call('HGET', key, 'f') or '-1') then
    local fields = redis.call('HGETALL', key)
    for k = 1, #fields, 2 do
      local day, counter = string.match(fields[k], '^(%d+):(%a+)$')
      if day and tonumber(day) <= limit then
        redis.call('HINCRBY', key, 't:' .. counter, tonumber(fields[k + 1]))
        redis.call('HDEL', key, fields[k])
      end
    end
    redis.call('HSET', key, 'f', limit)
  end
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
"""

# KEYS: per customer, its state key and its rows key; then the catalog keys the deltas name.
# ARGV: the state's TTL seconds (0: none), the rows' TTL, the grace days, the number of
# customers; then per customer: the version read, the new version, state, memo, rows ('' for
# none), its number of catalog deltas and, per delta, the index of its catalog key (from 1),
# day, counter and amount. A customer's deltas are counted only when its state is written.
_COMPARE_AND_SET = (
    _CATALOG_FUNCTIONS
    + """
local ttl, rows_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local grace, customers = tonumber(ARGV[3]), tonumber(ARGV[4])
local conflicts, touched = {}, {}
local at = 5
for i = 1, customers do
  local key, rows = KEYS[2 * i - 1], KEYS[2 * i]
  local deltas = tonumber(ARGV[at + 5])
  local current = redis.call('HGET', key, 'v') or '0'
  if current == ARGV[at] then
    redis.call('HSET', key, 'v', ARGV[at + 1], 's', ARGV[at + 2], 'm', ARGV[at + 3])
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    if ARGV[at + 4] == '' then
      redis.call('DEL', rows)
    else
      redis.call('SET', rows, ARGV[at + 4], 'EX', rows_ttl)
    end
    for d = at + 6, at + 5 + 4 * deltas, 4 do
      local entry = KEYS[2 * customers + tonumber(ARGV[d])]
      catalog_add(entry, tonumber(ARGV[d + 1]), ARGV[d + 2], tonumber(ARGV[d + 3]))
      touched[entry] = true
    end
  else
    conflicts[#conflicts + 1] = i
  end
  at = at + 6 + 4 * deltas
end
for entry in pairs(touched) do catalog_fold(entry, grace, ttl) end
return conflicts
"""
)

# On a Redis Cluster, the deltas of the customers written, one call per catalog entry (its
# own slot). KEYS[1]: the entry; ARGV: TTL, grace days, then per delta day, counter, amount.
_CATALOG_ADD = (
    _CATALOG_FUNCTIONS
    + """
for d = 3, #ARGV, 3 do
  catalog_add(KEYS[1], tonumber(ARGV[d]), ARGV[d + 1], tonumber(ARGV[d + 2]))
end
catalog_fold(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[1]))
return 1
"""
)

# KEYS: per customer, its state key, then its rows key. ARGV[i]: the version cached for customer
# i ('' for none). Per customer: its version, then its state, memo and rows, or three nils when
# the version is the cached one.
_LOAD = """
local replies = {}
for i = 1, #KEYS / 2 do
  local key, rows = KEYS[2 * i - 1], KEYS[2 * i]
  local version = redis.call('HGET', key, 'v') or '0'
  replies[4 * i - 3] = version
  if version ~= ARGV[i] and version ~= '0' then
    local fields = redis.call('HMGET', key, 's', 'm')
    replies[4 * i - 2] = fields[1]
    replies[4 * i - 1] = fields[2]
    replies[4 * i] = redis.call('GET', rows)
  else
    replies[4 * i - 2] = false
    replies[4 * i - 1] = false
    replies[4 * i] = false
  end
end
return replies
"""


@dataclass(frozen=True, slots=True)
class _Script:
    body: str
    sha: str

    @classmethod
    def of(cls, body: str) -> _Script:
        return cls(body, hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest())


_CAS_SCRIPT, _LOAD_SCRIPT = _Script.of(_COMPARE_AND_SET), _Script.of(_LOAD)
_CATALOG_SCRIPT = _Script.of(_CATALOG_ADD)

# A command to pipeline, with the hash slot of the keys it touches (its cluster node owns it).
_Routed = tuple[int, tuple[Any, ...]]


def new_version() -> int:
    """A version no write of any worker has used: random, not a counter, so a version cached
    before Redis lost data (a restart from an older snapshot) cannot match what is written
    after it."""
    return secrets.randbits(62) + 1  # never 0, which means "no state"


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
        rows_ttl_seconds: int = 900,
        grace_days: int = 7,
        on_round_trip: Callable[[float], None] | None = None,
        cache_customers: int = 0,
    ) -> None:
        self._client = client
        self._cluster = client if isinstance(client, RedisCluster) else None
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._rows_ttl = rows_ttl_seconds
        self._grace_days = grace_days
        self._on_round_trip = on_round_trip
        self.round_trips = 0
        self.decoded = 0
        """States decoded from Redis's bytes (those not served from the cache)."""
        # The first call of a script sends its body (EVAL caches it on each node it reaches),
        # later ones its SHA, so a fresh server costs no extra round trip to learn a script.
        self._scripts_cached: set[str] = set()
        self._cache_customers = cache_customers
        self._cache: OrderedDict[str, Stored] = OrderedDict()
        """Decoded states this store wrote, with their version, memo and rows, by customer. A load
        takes a customer's entry out (the caller will change the state in place), a save that
        wins puts the new one back; so a batch that fails half-way leaves nothing stale."""

    def key(self, customer_id: str) -> str:
        return f"{self._prefix}:{{{customer_id}}}"

    def rows_key(self, customer_id: str) -> str:
        """The customer's remembered rows (features/redelivery.py): a key of their own, in the
        customer's hash slot, expiring `rows_ttl_seconds` after the customer's last write."""
        return f"{self.key(customer_id)}:rows"

    def _keys(self, customers: list[str]) -> list[str]:
        return [key for c in customers for key in (self.key(c), self.rows_key(c))]

    def catalog_key(self, key: str) -> str:
        """A catalog entry (features/catalog.py): its own key, its own slot on a cluster."""
        return f"{self._prefix}:catalog:{key}"

    def load(self, customer_ids: Iterable[str]) -> dict[str, Stored]:
        return self.load_batch(customer_ids, ())[0]

    def load_batch(
        self, customer_ids: Iterable[str], catalog_keys: Iterable[str]
    ) -> tuple[dict[str, Stored], Catalog]:
        customers = list(dict.fromkeys(customer_ids))
        keys = sorted(set(catalog_keys))
        cached = {c: entry for c in customers if (entry := self._cache.pop(c, None)) is not None}
        by_slot: dict[int, list[str]] = {}
        for customer in customers:
            by_slot.setdefault(self._slot(self.key(customer)), []).append(customer)
        calls = [
            (
                slot,
                (
                    2 * len(group),
                    *self._keys(group),
                    *(cached[c].version if c in cached else "" for c in group),
                ),
            )
            for slot, group in by_slot.items()
        ]
        loaded = {}
        replies = self._run_script(_LOAD_SCRIPT, calls, self._catalog_reads(keys))
        for group, reply in zip(by_slot.values(), replies, strict=False):
            for i, customer in enumerate(group):
                version, blob, memo, scored = reply[4 * i : 4 * i + 4]
                entry = cached.get(customer)
                if entry is not None and entry.version == int(version):
                    loaded[customer] = entry
                else:
                    state = decode_state(blob) if blob else CustomerState()
                    self.decoded += bool(blob)
                    loaded[customer] = Stored(state, int(version), memo or b"", scored or b"")
        entries = replies[len(calls) :]
        catalog = {k: CatalogEntry.from_fields(f) for k, f in zip(keys, entries, strict=True)}
        return loaded, Catalog(catalog, complete=False)

    def load_catalog(self, keys: Iterable[str]) -> dict[str, CatalogEntry]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        replies = self._pipelined(self._catalog_reads(wanted))
        return {k: CatalogEntry.from_fields(f) for k, f in zip(wanted, replies, strict=True)}

    def _catalog_reads(self, keys: list[str]) -> list[_Routed]:
        return [(self._slot(self.catalog_key(k)), ("HGETALL", self.catalog_key(k))) for k in keys]

    def save(self, changed: Mapping[str, Stored], deltas: CatalogDeltas | None = None) -> set[str]:
        """On a standalone Redis the catalog deltas are counted in the same script as the
        states, atomically. On a cluster they follow in a second pipeline, for the customers
        written: a worker killed between the two loses those deltas (counts run low, never
        double)."""
        if not changed:
            return set()
        deltas = deltas or {}
        by_slot: dict[int, list[str]] = {}
        for customer in changed:
            by_slot.setdefault(self._slot(self.key(customer)), []).append(customer)
        groups = list(by_slot.values())
        versions = {customer: new_version() for customer in changed}
        inline = {} if self._cluster else deltas
        calls = [
            (slot, self._script_args(group, changed, versions, inline))
            for slot, group in by_slot.items()
        ]
        replies = self._run_script(_CAS_SCRIPT, calls)
        lost = {
            group[int(i) - 1]
            for group, conflicts in zip(groups, replies, strict=True)
            for i in conflicts
        }
        if self._cluster:
            self._add_to_catalog([d for c, ds in deltas.items() if c not in lost for d in ds])
        for customer, stored in changed.items():
            if customer not in lost:
                stored.version = versions[customer]
                self._remember(customer, stored)
        if lost:
            logger.info("compare-and-set lost for %d customers; they will be retried", len(lost))
        return lost

    def _add_to_catalog(self, deltas: list[CatalogDelta]) -> None:
        by_key: dict[str, list[Any]] = {}
        for delta in deltas:
            by_key.setdefault(delta.key, []).extend((delta.day, delta.counter, delta.amount))
        calls = [
            (
                self._slot(self.catalog_key(key)),
                (1, self.catalog_key(key), self._ttl, self._grace_days, *args),
            )
            for key, args in sorted(by_key.items())
        ]
        self._run_script(_CATALOG_SCRIPT, calls)

    def _remember(self, customer: str, stored: Stored) -> None:
        if self._cache_customers <= 0:
            return
        self._cache[customer] = stored
        if len(self._cache) > self._cache_customers:
            self._cache.popitem(last=False)

    def memory_usage(self, customer_id: str) -> int | None:
        """Bytes Redis uses for one customer (`MEMORY USAGE`), for capacity planning."""
        usage = self._client.memory_usage(self.key(customer_id), samples=0)
        return int(usage) if usage is not None else None

    def _slot(self, key: str) -> int:
        """The key's hash slot; a standalone Redis is treated as one slot, so one script call."""
        return int(self._cluster.keyslot(key)) if self._cluster else 0  # type: ignore[no-untyped-call]

    def _script_args(
        self,
        customers: list[str],
        changed: Mapping[str, Stored],
        versions: Mapping[str, int],
        deltas: CatalogDeltas,
    ) -> tuple[Any, ...]:
        """What follows the compare-and-set script in EVAL/EVALSHA: key count, keys, TTLs,
        grace, then per customer the version read, the new one, the fields and its deltas."""
        catalog: dict[str, int] = {}  # catalog key -> its index among the keys, from 1
        args: list[Any] = [self._ttl, self._rows_ttl, self._grace_days, len(customers)]
        for customer in customers:
            stored = changed[customer]
            state = encode_state(stored.state)
            own = deltas.get(customer, ())
            args += [stored.version, versions[customer], state, stored.memo, stored.scored]
            args.append(len(own))
            for delta in own:
                index = catalog.setdefault(delta.key, len(catalog) + 1)
                args += [index, delta.day, delta.counter, delta.amount]
        keys = [*self._keys(customers), *map(self.catalog_key, catalog)]
        return (len(keys), *keys, *args)

    def _run_script(
        self, script: _Script, calls: list[_Routed], then: list[_Routed] | None = None
    ) -> list[Any]:
        """One call of `script` per (slot, arguments), then the commands `then`, in one
        pipeline; calls that find the script not cached on their node (a restarted or new
        node, SCRIPT FLUSH) are resent by body."""
        by_sha = script.sha in self._scripts_cached
        command = ("EVALSHA", script.sha) if by_sha else ("EVAL", script.body)
        replies = self._pipelined(
            [(slot, (*command, *rest)) for slot, rest in calls] + list(then or [])
        )
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            logger.info("script not cached for %d calls; resent", len(missing))
            resent = self._pipelined(
                [(calls[i][0], ("EVAL", script.body, *calls[i][1])) for i in missing]
            )
            for i, reply in zip(missing, resent, strict=True):
                replies[i] = reply
        self._scripts_cached.add(script.sha)
        return replies

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
