"""(a) The ceiling for a Python consumer: a bare aiokafka loop that forwards every record.

`getmany` a batch, `send` each record to the output topic (the producer batches them), wait for
the batch's deliveries, commit, repeat: the same at-least-once shape as the worker, with no
work in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.errors import BenchError
from streams.settings import KafkaSettings

# tansu's first group join waits out the rebalance timeout: keep it short (platform-notes).
GROUP_OPTIONS: dict[str, Any] = {
    "session_timeout_ms": 6_000,
    "heartbeat_interval_ms": 500,
    "rebalance_timeout_ms": 2_000,
    "auto_offset_reset": "earliest",
    "enable_auto_commit": False,
}


async def forward(
    kafka: KafkaSettings,
    sources: Sequence[str],
    target: str,
    group: str,
    expected: int,
    batch_size: int,
    timeout_s: float = 120.0,
) -> int:
    """Forward records from `sources` to `target` until `expected` were forwarded."""
    consumer = AIOKafkaConsumer(
        *sources, **kafka.aiokafka_options(), group_id=group, **GROUP_OPTIONS
    )
    producer = AIOKafkaProducer(
        **kafka.aiokafka_options(), acks="all", linger_ms=5, max_batch_size=256 * 1024
    )
    await consumer.start()
    await producer.start()
    forwarded = 0
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while forwarded < expected:
            if loop.time() > deadline:
                raise BenchError(f"bare loop forwarded {forwarded} of {expected} records in time")
            batch = await consumer.getmany(timeout_ms=200, max_records=batch_size)
            deliveries = [
                await producer.send(target, record.value, key=record.key)
                for records in batch.values()
                for record in records
            ]
            if deliveries:
                await asyncio.gather(*deliveries)
                await consumer.commit()
                forwarded += len(deliveries)
    finally:
        await producer.stop()
        await consumer.stop()
    return forwarded
