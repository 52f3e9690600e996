"""The batch writer against the real test broker: lingering, oversized records, accounting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer

from devstack.topics import count_records_async
from producer.batches import BatchWriter
from producer.report import ProduceReport
from streams.settings import KafkaSettings

pytestmark = pytest.mark.integration


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _wait_for_count(kafka: KafkaSettings, topic: str, expected: int) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    count = 0
    while loop.time() < deadline:
        count = (await count_records_async(kafka, [topic]))[topic]
        if count >= expected:
            break
    return count


def test_stale_batches_go_out_without_a_flush_and_fresh_ones_wait(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    old, fresh = topic_factory("old", partitions=1), topic_factory("fresh", partitions=1)

    async def scenario() -> tuple[int, int, ProduceReport]:
        producer = AIOKafkaProducer(**kafka_settings.aiokafka_options())
        await producer.start()
        report, clock = ProduceReport(), FakeClock()
        writer = BatchWriter(producer, report, max_age_s=0.05, clock=clock)
        try:
            await writer.append(old, 0, b"k", b"old", valid=True, line_no=1)
            clock.now += 1.0
            await writer.append(fresh, 0, b"k", b"fresh", valid=False, line_no=2)
            await writer.send_stale()
            old_count = await _wait_for_count(kafka_settings, old, 1)
            fresh_count = (await count_records_async(kafka_settings, [fresh]))[fresh]
            await writer.settle()
        finally:
            await producer.stop()
        return old_count, fresh_count, report

    old_count, fresh_count, report = asyncio.run(scenario())

    assert (old_count, fresh_count) == (1, 0)
    assert report.sent == {old: 1} and report.sent_invalid == {fresh: 1}


def test_full_batches_roll_over_and_an_oversized_record_still_goes_alone(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory("big", partitions=1)

    async def scenario() -> ProduceReport:
        producer = AIOKafkaProducer(**kafka_settings.aiokafka_options(), max_batch_size=1024)
        await producer.start()
        report = ProduceReport()
        writer = BatchWriter(producer, report)
        try:
            for line_no in range(1, 41):
                await writer.append(topic, 0, b"k", b"x" * 100, valid=True, line_no=line_no)
            await writer.append(topic, 0, b"k", b"y" * 5000, valid=True, line_no=41)
            await writer.settle()
        finally:
            await producer.stop()
        return report

    report = asyncio.run(scenario())

    assert report.sent == {topic: 41} and report.failed == 0
    assert asyncio.run(count_records_async(kafka_settings, [topic])) == {topic: 41}
