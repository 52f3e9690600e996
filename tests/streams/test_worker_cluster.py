"""Two workers on a real three-node Redis Cluster, one node restarted mid-stream: every order
and return request scored, redeliveries equal to their first delivery, and the state in the
cluster equal to the offline replay."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from devstack.topics import ensure_topics
from features.codec import encode_state
from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.replay import read_log
from features.state import CustomerState, apply_event
from producer.send import produce_file
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.infra import free_port, topic_env
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.redis_cluster import ClusterNodes
from tests.fixtures.topics import IDS, duplicates_equal_their_first, read_until
from tests.fixtures.worker import WorkerProcess
from tests.streams.test_worker_group import PARTITIONS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

NODE_DOWN_S = 8.0
"""Longer than a batch's Redis call waits (the worker's socket timeout): batches fail and are
retried while the node is away."""


@pytest.fixture
def durable_cluster(tmp_path: Path) -> Iterator[ClusterNodes]:
    nodes = ClusterNodes(tmp_path / "cluster", durable=True)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def test_two_workers_on_a_redis_cluster_survive_a_node_restart(
    kafka_settings: KafkaSettings,
    durable_cluster: ClusterNodes,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        **{name: f"{field.default}-{suffix}" for name, field in TopicSettings.model_fields.items()}
    )
    asyncio.run(ensure_topics(kafka_settings, [*topics.inputs, *topics.outputs], PARTITIONS))
    prefix = f"rr:test:{suffix}"
    env = {
        **os.environ,
        **topic_env(topics),
        "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "RETURNRISK_REDIS_URL": durable_cluster.url,
        "RETURNRISK_REDIS_CLUSTER": "true",
        "RETURNRISK_REGISTRY_DIR": str(trained_registry.registry.root),
        "RETURNRISK_WORKER_APP_ID": f"test-cluster-{suffix}",
        "RETURNRISK_WORKER_REDIS_KEY_PREFIX": prefix,
        "RETURNRISK_WORKER_START_TIMEOUT_S": "60",
    }
    workers = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        port = {"RETURNRISK_WORKER_METRICS_PORT": str(free_port())}
        workers.append(WorkerProcess({**env, **port}, folder / "worker.log"))
    try:
        for worker in workers:
            worker.start()
        events, _ = read_log(trained_registry.log)
        expected = {
            e.event_id for e in events if e.event_type in ("order_placed", "return_requested")
        }
        produce_file(trained_registry.log, kafka_settings, topics)

        def scored(values: dict[str, list[bytes]], share: float) -> bool:
            for worker in workers:
                worker.check_alive()
            sources = {json.loads(v)["source_event_id"] for v in values[topics.scores]}
            return len(sources) >= share * len(expected)

        read_until(kafka_settings, [topics.scores], lambda v: scored(v, 0.3), timeout_s=240)
        durable_cluster.restart(1, NODE_DOWN_S)
        outputs = [topics.scores, topics.alerts, topics.offers]
        read_until(kafka_settings, outputs, lambda v: scored(v, 1.0), timeout_s=300)
        time.sleep(3)  # records of the last batches still on their way
        values = read_until(kafka_settings, outputs, lambda _: False, timeout_s=5)
        assert {json.loads(v)["source_event_id"] for v in values[topics.scores]} == expected
        for kind, id_field in IDS.items():
            duplicates_equal_their_first(values[getattr(topics, kind)], id_field)

        offline: dict[str, CustomerState] = {}
        for event in events:
            apply_event(
                offline.setdefault(event.customer_id, CustomerState()), event, FeatureConfig()
            )
        store = RedisFeatureStore(RedisCluster.from_url(durable_cluster.url), prefix=prefix)
        online = store.load(offline)
        differing = [
            c for c, s in offline.items() if encode_state(online[c].state) != encode_state(s)
        ]
        assert differing == []
        retried = sum(w.log.read_text().count("retrying") for w in workers)
        assert retried > 0, "the node restart went unnoticed: no batch was retried"
        for worker in workers:
            worker.terminate_cleanly()
    finally:
        for worker in workers:
            worker.stop()
