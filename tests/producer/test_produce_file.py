"""`produce_file` against the real test broker: counts, keys, partitions, rate, failures."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from devstack.topics import count_records, existing_topics
from producer import ProduceError, produce_file
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.events import EventFactory, write_jsonl
from tests.fixtures.infra import free_port

pytestmark = pytest.mark.integration


async def _read_all(
    kafka: KafkaSettings, topic: str, expected: int
) -> list[tuple[int, bytes, bytes]]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka_options(), enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(kafka.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    out: list[tuple[int, bytes, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while len(out) < expected and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                out += [(r.partition, r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return out


def test_a_valid_log_lands_per_topic_keyed_and_partitioned_by_customer(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    event_factory: EventFactory,
) -> None:
    events = event_factory.mixed(200, customers=17)
    log = write_jsonl(tmp_path / "events.jsonl", events)
    expected = Counter(fresh_topics.for_event_type(e["event_type"]) for e in events)

    report = produce_file(log, kafka_settings, fresh_topics)

    assert report.sent == expected and not report.malformed and not report.failed
    assert count_records(kafka_settings, fresh_topics.inputs) == {
        t: expected[t] for t in fresh_topics.inputs
    }
    received = asyncio.run(_read_all(kafka_settings, fresh_topics.returns, expected["returns"]))
    customer_of_line = {event_factory.line(e): e["customer_id"].encode() for e in events}
    all_partitions = list(range(kafka_settings.partitions))
    assert len(received) == expected["returns"]
    for partition, key, value in received:
        assert customer_of_line[value] == key  # the original bytes, keyed by customer
        # the partition the Kafka default partitioner (and faust) picks for this key
        assert partition == DefaultPartitioner()(key, all_partitions, all_partitions)


def test_include_invalid_sends_malformed_lines_and_counts_them_apart(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    event_factory: EventFactory,
) -> None:
    log = write_jsonl(
        tmp_path / "events.jsonl",
        [
            event_factory.order(),
            event_factory.return_requested(return_type="gift"),  # unknown enum value
            b"not json at all",
        ],
    )

    report = produce_file(log, kafka_settings, fresh_topics, include_invalid=True)

    assert report.sent == {fresh_topics.orders: 1}
    assert report.sent_invalid == {fresh_topics.returns: 1, fresh_topics.orders: 1}
    assert [m.line_no for m in report.malformed] == [2, 3]
    assert count_records(kafka_settings, [fresh_topics.orders, fresh_topics.returns]) == {
        fresh_topics.orders: 2,
        fresh_topics.returns: 1,
    }


def test_rate_limits_the_average_send_rate(
    tmp_path: Path,
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    event_factory: EventFactory,
) -> None:
    log = write_jsonl(tmp_path / "events.jsonl", event_factory.mixed(61))

    started = time.perf_counter()
    report = produce_file(log, kafka_settings, fresh_topics, rate=200)
    elapsed = time.perf_counter() - started

    assert report.sent.total() == 61
    assert 0.29 <= elapsed < 3.0  # 60 intervals of 5 ms after the first send


def test_missing_input_topics_are_named_and_not_created(
    tmp_path: Path, kafka_settings: KafkaSettings, event_factory: EventFactory
) -> None:
    topics = TopicSettings(orders=f"orders-{uuid.uuid4().hex[:8]}")
    log = write_jsonl(tmp_path / "events.jsonl", [event_factory.order()])

    with pytest.raises(ProduceError, match=f"input topics missing .*{topics.orders}"):
        produce_file(log, kafka_settings, topics)
    assert topics.orders not in asyncio.run(existing_topics(kafka_settings))


def test_an_unreachable_broker_is_one_clear_error(
    tmp_path: Path, event_factory: EventFactory
) -> None:
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_s=2)
    log = write_jsonl(tmp_path / "events.jsonl", [event_factory.order()])

    with pytest.raises(ProduceError, match="cannot reach Kafka at 127.0.0.1:"):
        produce_file(log, kafka, TopicSettings())
