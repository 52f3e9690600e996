"""Build one record batch per topic-partition and hand whole batches to the producer.

aiokafka's per-record `send()` makes a future, a partition lookup and a scheduled callback for
every record; appending to a batch and sending it whole more than doubled throughput (48k to
117k events/s on the reference machine). The cost is that lingering is done here: a batch goes
out when it is full, when it is older than `max_age_s` (`send_stale`), or on `send_open`.
Delivery results are collected from each batch's future, so every record ends up counted as
delivered or failed before `settle` returns.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.message_accumulator import BatchBuilder

from producer.report import ProduceReport


@dataclass
class _Batch:
    topic: str
    partition: int
    builder: BatchBuilder
    opened_at: float
    first_line: int
    valid: int = 0
    invalid: int = 0

    @property
    def size(self) -> int:
        return self.valid + self.invalid

    def add(self, valid: bool) -> None:
        if valid:
            self.valid += 1
        else:
            self.invalid += 1


@dataclass
class BatchWriter:
    producer: AIOKafkaProducer
    report: ProduceReport
    max_age_s: float = 0.05
    clock: Callable[[], float] = time.monotonic
    _open: dict[tuple[str, int], _Batch] = field(default_factory=dict)
    _in_flight: deque[tuple[_Batch, asyncio.Future[object]]] = field(default_factory=deque)

    async def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes, valid: bool, line_no: int
    ) -> None:
        batch = self._open.get((topic, partition))
        if batch is not None:
            if batch.builder.append(key=key, value=value, timestamp=None) is not None:
                batch.add(valid)
                return
            await self._send(batch)  # full: send it, and start the next one with this record
        batch = _Batch(topic, partition, self.producer.create_batch(), self.clock(), line_no)
        self._open[(topic, partition)] = batch
        # The first record of a batch always fits, whatever its size (Kafka's rule too).
        batch.builder.append(key=key, value=value, timestamp=None)
        batch.add(valid)

    async def send_stale(self) -> None:
        cutoff = self.clock() - self.max_age_s
        for batch in [b for b in self._open.values() if b.opened_at <= cutoff]:
            await self._send(batch)

    async def send_open(self) -> None:
        for batch in list(self._open.values()):
            await self._send(batch)

    async def _send(self, batch: _Batch) -> None:
        del self._open[(batch.topic, batch.partition)]
        batch.builder.close()
        try:
            future = await self.producer.send_batch(
                batch.builder, batch.topic, partition=batch.partition
            )
        except KafkaError as exc:
            self.report.count_failed(batch.size, batch.first_line, f"not sent: {exc}")
            return
        self._in_flight.append((batch, future))
        while self._in_flight and self._in_flight[0][1].done():
            self._settle_one(*self._in_flight.popleft())

    async def settle(self) -> None:
        """Send what is open and wait for the outcome of every batch sent."""
        await self.send_open()
        while self._in_flight:
            batch, future = self._in_flight.popleft()
            await asyncio.wait([future])
            self._settle_one(batch, future)

    def _settle_one(self, batch: _Batch, future: asyncio.Future[object]) -> None:
        error = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if error is not None:
            self.report.count_failed(batch.size, batch.first_line, f"not delivered: {error}")
        else:
            self.report.count_delivered(batch.topic, batch.valid, batch.invalid)
