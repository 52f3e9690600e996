"""Create topics, read their partition counts, and count their records by reading to the end.

Two tansu 0.6 behaviours shape this module:

* a metadata request naming a missing topic creates it with the broker's default partitions,
  so existence is checked with `list_topics()` (all topics) before anything is described;
* ListOffsets(latest), hence `end_offsets()`, is wrong, so `count_records` fetches until each
  partition's position reaches the high-water mark the Fetch response reports. That is also
  correct on Apache Kafka, where it counts the records actually there (compaction, deleted
  segments and transaction markers make offset arithmetic overcount).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import KafkaSettings

logger = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_FETCH_WAIT_MS = 200


class TopicError(RuntimeError):
    """A topic is missing or could not be created; the message names it."""


async def existing_topics(kafka: KafkaSettings) -> set[str]:
    admin = AIOKafkaAdminClient(**kafka.aiokafka_options())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def ensure_topics(
    kafka: KafkaSettings, names: Iterable[str], partitions: int
) -> dict[str, int]:
    """Create the missing topics with `partitions` each; return every topic's partition count.

    Existing topics are left as they are, whatever their partition count: compare the result
    with `partitions` to notice a mismatch.
    """
    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(**kafka.aiokafka_options())
    await admin.start()
    try:
        missing = [name for name in wanted if name not in set(await admin.list_topics())]
        if missing:
            new = [NewTopic(name, partitions, kafka.replication_factor) for name in missing]
            response = await admin.create_topics(new)
            for name, code, message in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise TopicError(f"cannot create topic {name!r}: {message} (error {code})")
            logger.info("created topics %s with %d partitions", missing, partitions)
        return await _describe(admin, wanted)
    finally:
        await admin.close()


async def partition_counts(kafka: KafkaSettings, names: Iterable[str]) -> dict[str, int]:
    """Partition count of each topic; raises `TopicError` naming any that do not exist."""
    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(**kafka.aiokafka_options())
    await admin.start()
    try:
        known = set(await admin.list_topics())
        missing = [name for name in wanted if name not in known]
        if missing:
            raise TopicError(f"topics do not exist on {kafka.bootstrap_servers}: {missing}")
        return await _describe(admin, wanted)
    finally:
        await admin.close()


async def _describe(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    described = await admin.describe_topics(names)
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def count_records_async(
    kafka: KafkaSettings, topics: Iterable[str], idle_timeout_s: float = 5.0
) -> dict[str, int]:
    """Number of records in each topic now, read from the beginning to the high-water mark.

    Stops early only if no fetch makes progress for `idle_timeout_s` (then logs which
    partitions were not read to the end). Raises `TopicError` if a topic does not exist.
    """
    counts = await partition_counts(kafka, topics)
    totals = dict.fromkeys(counts, 0)
    partitions = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
    if not partitions:
        return totals
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_options(), enable_auto_commit=False, fetch_max_wait_ms=_FETCH_WAIT_MS
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        await _read_to_end(consumer, set(partitions), totals, idle_timeout_s)
    finally:
        await consumer.stop()
    return totals


async def _read_to_end(
    consumer: AIOKafkaConsumer,
    remaining: set[TopicPartition],
    totals: dict[str, int],
    idle_timeout_s: float,
) -> None:
    loop = asyncio.get_running_loop()
    last_progress = loop.time()
    while remaining:
        batch = await consumer.getmany(timeout_ms=_FETCH_WAIT_MS, max_records=10_000)
        for tp, records in batch.items():
            totals[tp.topic] += len(records)
        finished = [tp for tp in remaining if await _at_end(consumer, tp)]
        if batch or finished:
            last_progress = loop.time()
        remaining.difference_update(finished)
        consumer.pause(*finished)
        if loop.time() - last_progress > idle_timeout_s:
            logger.warning(
                "gave up reading to the end of %s after %.1f s idle", remaining, idle_timeout_s
            )
            return


async def _at_end(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    highwater = consumer.highwater(tp)  # from the last Fetch response; None before one
    return highwater is not None and await consumer.position(tp) >= highwater


def count_records(
    kafka: KafkaSettings, topics: Iterable[str], idle_timeout_s: float = 5.0
) -> dict[str, int]:
    """Blocking form of `count_records_async`, for scripts and the CLI (not inside a loop)."""
    return asyncio.run(count_records_async(kafka, topics, idle_timeout_s))
