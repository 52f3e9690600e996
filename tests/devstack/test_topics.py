"""Topic creation and record counting against the real test broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer

from devstack.topics import (
    TopicError,
    count_records,
    ensure_topics,
    existing_topics,
    partition_counts,
)
from streams.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def _produce(kafka: KafkaSettings, topic: str, count: int, flush_every: int) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka_options())
    await producer.start()
    try:
        for i in range(count):
            await producer.send(topic, b"v", key=f"k{i % 13}".encode())
            if (i + 1) % flush_every == 0:  # several batches per partition
                await producer.flush()
    finally:
        await producer.stop()


def test_ensure_topics_is_idempotent_and_keeps_existing_partition_counts(
    kafka_settings: KafkaSettings,
) -> None:
    name = f"ensure-{uuid.uuid4().hex[:8]}"
    assert asyncio.run(ensure_topics(kafka_settings, [name], 2)) == {name: 2}
    assert asyncio.run(ensure_topics(kafka_settings, [name], 5)) == {name: 2}


def test_count_records_reads_to_the_end_of_every_partition(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    busy, empty = topic_factory("busy", partitions=3), topic_factory("empty", partitions=2)
    # Many small batches: the case where tansu's ListOffsets(latest) undercounts.
    asyncio.run(_produce(kafka_settings, busy, 300, flush_every=20))

    assert count_records(kafka_settings, [busy, empty]) == {busy: 300, empty: 0}


def test_counting_a_missing_topic_fails_without_creating_it(kafka_settings: KafkaSettings) -> None:
    name = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(TopicError, match=name):
        count_records(kafka_settings, [name])
    with pytest.raises(TopicError, match=name):
        asyncio.run(partition_counts(kafka_settings, [name]))
    assert name not in asyncio.run(existing_topics(kafka_settings))
