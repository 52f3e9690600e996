"""Messages round-trip through the test broker with a consumer group: the contract every agent
relies on (all arrive, keys kept, per-key order kept across partitions)."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.settings import KafkaSettings
from tests.fixtures.infra import FAST_GROUP_OPTIONS, wait_for_assignment

pytestmark = pytest.mark.integration

KEYS = 20
PER_KEY = 50


async def _produce(kafka: KafkaSettings, topic: str) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka_options(), linger_ms=5)
    await producer.start()
    try:
        for seq in range(PER_KEY):
            for k in range(KEYS):
                await producer.send(topic, f"{k}:{seq}".encode(), key=f"cust-{k}".encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _consume(
    kafka: KafkaSettings, topic: str, expected: int
) -> list[tuple[bytes, bytes, int]]:
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.aiokafka_options(),
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        **FAST_GROUP_OPTIONS,
    )
    await consumer.start()
    received: list[tuple[bytes, bytes, int]] = []
    try:
        await wait_for_assignment(consumer)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15.0
        while len(received) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                received += [(r.key, r.value, r.partition) for r in records]
    finally:
        await consumer.stop()
    return received


def test_keyed_messages_round_trip_through_a_consumer_group(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("roundtrip", partitions=3)
    asyncio.run(_produce(kafka_settings, topic))

    received = asyncio.run(_consume(kafka_settings, topic, KEYS * PER_KEY))

    assert len(received) == KEYS * PER_KEY
    by_key: dict[bytes, list[int]] = defaultdict(list)
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for key, value, partition in received:
        k, seq = value.decode().split(":")
        assert key == f"cust-{k}".encode()
        by_key[key].append(int(seq))
        partitions_of_key[key].add(partition)
    assert all(seqs == list(range(PER_KEY)) for seqs in by_key.values())
    assert all(len(p) == 1 for p in partitions_of_key.values())
    assert len({p for ps in partitions_of_key.values() for p in ps}) > 1, "all keys on 1 partition"
