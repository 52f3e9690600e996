"""Several workers in one consumer group: a worker joins mid-stream, another is killed, and every
record delivered twice is the record delivered first (apart from processing timestamps)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from features.redis_store import RedisFeatureStore
from features.replay import read_log
from producer.send import produce_file
from streams.settings import KafkaSettings
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.topics import IDS, duplicates_equal_their_first, read_until
from tests.fixtures.worker import differing_from_replay, worker_group

pytestmark = pytest.mark.integration


def test_two_workers_a_third_joining_and_one_killed_give_every_record_one_content(
    kafka_settings: KafkaSettings,
    redis_url: str,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    group = worker_group(
        kafka_settings,
        trained_registry,
        tmp_path,
        ["first", "second", "third"],
        RETURNRISK_REDIS_URL=redis_url,
    )
    topics, prefix, workers = group.topics, group.prefix, group.workers
    first, second, third = workers
    try:
        first.start()
        second.start()
        events, _ = read_log(trained_registry.log)
        expected = {
            e.event_id for e in events if e.event_type in ("order_placed", "return_requested")
        }
        produce_file(trained_registry.log, kafka_settings, topics)

        def scored(share: float) -> None:
            def enough(values: dict[str, list[bytes]]) -> bool:
                for worker in workers:
                    if worker.process is not None and worker.process.returncode is None:
                        worker.check_alive()
                return len(values[topics.scores]) >= share * len(expected)

            read_until(kafka_settings, [topics.scores], enough, timeout_s=240)

        scored(0.2)
        third.start()
        scored(0.5)
        first.kill()

        def done(values: dict[str, list[bytes]]) -> bool:
            second.check_alive()
            third.check_alive()
            sources = {json.loads(v)["source_event_id"] for v in values[topics.scores]}
            return sources >= expected

        outputs = [topics.scores, topics.alerts, topics.offers]
        values = read_until(kafka_settings, outputs, done, timeout_s=300)
        time.sleep(3)  # records of the last batches still on their way
        values = read_until(kafka_settings, outputs, lambda _: False, timeout_s=5)
        scores = values[topics.scores]
        assert {json.loads(v)["source_event_id"] for v in scores} == expected
        # Records the killed worker had applied but not committed come again, and must equal
        # their first delivery. There may be none: the catalog gate (streams/catalog_gate.py)
        # holds most of a backlog's records in Redis before they are applied, with their
        # offsets committed, and the next owner takes them over from there. Redelivered
        # outputs are proven equal where they certainly occur, in tests/streams/test_worker.py
        # and test_micro_batch.py; here the takeover is: the kill came with half of the scores
        # out, and every record is scored, once in content, with the state equal to offline.
        for kind, id_field in IDS.items():
            duplicates_equal_their_first(values[getattr(topics, kind)], id_field)

        store = RedisFeatureStore(redis.Redis.from_url(redis_url), prefix=prefix)
        differing = differing_from_replay(store, events, wait_s=120)
        assert differing == []
        second.terminate_cleanly()
        third.terminate_cleanly()
    finally:
        for worker in workers:
            worker.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.unlink(key)
