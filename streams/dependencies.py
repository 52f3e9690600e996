"""Are Redis and the broker reachable? Probed every few seconds while the worker runs.

An outage is logged once when it begins and once when it ends, and shown while it lasts by
`returnrisk_dependency_up{dependency}`; the batch retries it causes are counted by
`returnrisk_batch_retries_total`. The probes use the worker's own connection settings (TLS and
SASL included), so they see what the worker sees.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis
from aiokafka import AIOKafkaClient
from redis.cluster import RedisCluster

from streams import metrics
from streams.settings import REDIS_ERRORS, KafkaSettings, RedisSettings

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0


class DependencyWatch:
    def __init__(self, redis_conf: RedisSettings, kafka: KafkaSettings) -> None:
        self._redis_conf = redis_conf
        self._redis: redis.Redis | RedisCluster | None = None
        self._kafka = kafka
        self._down_since: dict[str, float] = {}
        self.problems: dict[str, str] = {}
        """What is unreachable now, and why."""
        for dependency in ("redis", "kafka"):
            metrics.DEPENDENCY_UP.labels(dependency).set(1)

    async def check(self) -> None:
        redis_problem, kafka_problem = await asyncio.gather(
            asyncio.to_thread(self._probe_redis), self._probe_kafka()
        )
        self._record("redis", redis_problem)
        self._record("kafka", kafka_problem)

    def _probe_redis(self) -> str | None:
        try:
            if self._redis is None:  # a cluster client needs a node to be built
                self._redis = self._redis_conf.connect(
                    socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S
                )
            self._redis.ping()
        except REDIS_ERRORS as exc:
            return str(exc) or type(exc).__name__
        return None

    async def _probe_kafka(self) -> str | None:
        client = AIOKafkaClient(**self._kafka.aiokafka_options())
        try:
            await asyncio.wait_for(client.bootstrap(), PROBE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            return str(exc) or type(exc).__name__
        finally:
            await client.close()
        return None

    def _record(self, dependency: str, problem: str | None) -> None:
        metrics.DEPENDENCY_UP.labels(dependency).set(0 if problem else 1)
        if problem is not None:
            self.problems[dependency] = problem
            if dependency not in self._down_since:
                self._down_since[dependency] = time.monotonic()
                logger.warning("%s is unreachable: %s", dependency, problem)
        elif dependency in self._down_since:
            self.problems.pop(dependency, None)
            lasted = time.monotonic() - self._down_since.pop(dependency)
            logger.warning("%s is reachable again after %.0f s", dependency, lasted)
