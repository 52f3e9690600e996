"""Redis figures of the worker's keys (`{prefix}:{<customer>}`): bytes per customer, cleanup."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster

_SAMPLE = 200


@dataclass(frozen=True, slots=True)
class KeyStats:
    keys: int
    sampled: int
    mean_bytes: float
    """Mean MEMORY USAGE (value, key and Redis overhead) of the sampled customers' keys."""


def key_stats(client: redis.Redis | RedisCluster, prefix: str, sample: int = _SAMPLE) -> KeyStats:
    """The customers' state keys; not their remembered rows (`...:rows`, which expire minutes
    after a customer's last write) nor held events."""
    keys = list(client.scan_iter(f"{prefix}:{{*}}", count=1000))
    sizes = [client.memory_usage(key) or 0 for key in itertools.islice(keys, sample)]
    mean = sum(sizes) / len(sizes) if sizes else 0.0
    return KeyStats(len(keys), len(sizes), mean)


def delete_keys(client: redis.Redis | RedisCluster, prefix: str) -> int:
    deleted = 0
    keys = iter(client.scan_iter(f"{prefix}:*", count=1000))
    while chunk := list(itertools.islice(keys, 500)):
        deleted += int(client.unlink(*chunk))
    return deleted
