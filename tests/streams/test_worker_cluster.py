"""Two workers on a real three-node Redis Cluster: every order and return request scored,
redeliveries equal to their first delivery, and the state in the cluster equal to the offline
replay."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from features.redis_store import RedisFeatureStore
from features.replay import read_log
from producer.send import produce_file
from streams.settings import KafkaSettings
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.topics import IDS, duplicates_equal_their_first, read_until
from tests.fixtures.worker import differing_from_replay, worker_group

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_two_workers_on_a_redis_cluster_score_everything_once(
    kafka_settings: KafkaSettings,
    redis_cluster_url: str,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    group = worker_group(
        kafka_settings,
        trained_registry,
        tmp_path,
        ["first", "second"],
        RETURNRISK_REDIS_URL=redis_cluster_url,
        RETURNRISK_REDIS_CLUSTER="true",
    )
    topics, prefix, workers = group.topics, group.prefix, group.workers
    cluster = RedisCluster.from_url(redis_cluster_url)
    try:
        for worker in workers:
            worker.start()
        events, _ = read_log(trained_registry.log)
        expected = {
            e.event_id for e in events if e.event_type in ("order_placed", "return_requested")
        }
        produce_file(trained_registry.log, kafka_settings, topics)

        def scored(values: dict[str, list[bytes]]) -> bool:
            for worker in workers:
                worker.check_alive()
            return {json.loads(v)["source_event_id"] for v in values[topics.scores]} >= expected

        outputs = [topics.scores, topics.alerts, topics.offers]
        read_until(kafka_settings, outputs, scored, timeout_s=300)
        time.sleep(3)  # records of the last batches still on their way
        values = read_until(kafka_settings, outputs, lambda _: False, timeout_s=5)
        assert {json.loads(v)["source_event_id"] for v in values[topics.scores]} == expected
        for kind, id_field in IDS.items():
            duplicates_equal_their_first(values[getattr(topics, kind)], id_field)

        store = RedisFeatureStore(cluster, prefix=prefix)
        differing = differing_from_replay(store, events, wait_s=60)
        assert differing == []
        for worker in workers:
            worker.terminate_cleanly()
    finally:
        for worker in workers:
            worker.stop()
        for key in cluster.scan_iter(f"{prefix}:*"):
            cluster.unlink(key)
