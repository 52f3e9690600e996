"""Read a topic from the beginning and keep what the bench measures: count, the first and last
CreateTime (set by the producing client when it sent the record); optionally hand each record
to a callback as it is read (the records themselves are never kept).

tansu's ListOffsets(latest) is wrong (see platform-notes), so `end_offsets()` is never used:
a read stops at an expected count, or when every partition's position reaches the high-water
mark the last Fetch response reported (correct on Apache Kafka as well).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.errors import BenchError
from streams.settings import KafkaSettings

_FETCH_WAIT_MS = 200

Visit = Callable[[int, bytes], None]
"""Called with (CreateTime in ms, value) of each record read."""


class ReadTimeout(BenchError):
    """The topic did not reach the expected count in time; the message says how far it got."""


@dataclass(slots=True)
class TopicRead:
    count: int = 0
    first_ms: int | None = None
    last_ms: int | None = None

    @property
    def span_s(self) -> float:
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        return (self.last_ms - self.first_ms) / 1000

    def add(self, timestamp_ms: int) -> None:
        self.count += 1
        self.first_ms = timestamp_ms if self.first_ms is None else min(self.first_ms, timestamp_ms)
        self.last_ms = timestamp_ms if self.last_ms is None else max(self.last_ms, timestamp_ms)


async def read_topic(
    kafka: KafkaSettings,
    topic: str,
    *,
    expected: int | None = None,
    visit: Visit | None = None,
    timeout_s: float = 120.0,
) -> TopicRead:
    """Read `topic` until `expected` records arrived, or (without `expected`) to its end."""
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_options(), enable_auto_commit=False, fetch_max_wait_ms=_FETCH_WAIT_MS
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(consumer, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return await _read(consumer, partitions, expected, visit, timeout_s)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer.topics()  # fetches metadata for every topic
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise ReadTimeout(f"topic {topic!r} has no partitions (does it exist?)")
    return set(found)


async def _read(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    expected: int | None,
    visit: Visit | None,
    timeout_s: float,
) -> TopicRead:
    read = TopicRead()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        batch = await consumer.getmany(timeout_ms=_FETCH_WAIT_MS, max_records=10_000)
        for records in batch.values():
            for record in records:
                read.add(record.timestamp)
                if visit is not None:
                    visit(record.timestamp, record.value or b"")
        if expected is not None and read.count >= expected:
            return read
        if expected is None and await _all_at_end(consumer, partitions):
            return read
        if loop.time() > deadline:
            raise ReadTimeout(
                f"read {read.count} records of {partitions[0].topic} in {timeout_s:.0f} s, "
                f"expected {expected if expected is not None else 'to reach the end'}"
            )


async def _all_at_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
    for tp in partitions:
        highwater = consumer.highwater(tp)  # from the last Fetch response; None before one
        if highwater is None or await consumer.position(tp) < highwater:
            return False
    return True
