"""Read an event log and send it to Kafka as fast as the broker takes it, or at a given rate.

Records are keyed by customer_id and placed with the Kafka default partitioner (murmur2 of the
key, as the Java client, aiokafka and faust compute it), so every input topic is co-partitioned
by customer. Records go out in whole batches (see `batches`); with a rate limit, whatever is
batched is sent before each pause, so throttled records are not held back.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from devstack.topics import existing_topics
from producer.batches import BatchWriter
from producer.lines import MalformedLine, Outgoing, route, route_invalid
from producer.report import ProduceReport
from producer.throttle import RateLimiter
from schemas.log_check import is_blank
from streams.settings import KafkaSettings, TopicSettings

logger = logging.getLogger(__name__)

_MAX_BATCH_BYTES = 256 * 1024
_MAX_BATCH_AGE_S = 0.05
_CHECK_EVERY_LINES = 1_000

ProgressCallback = Callable[[ProduceReport], None]
MalformedCallback = Callable[[MalformedLine], None]


class ProduceError(RuntimeError):
    """The log could not be sent at all (broker unreachable, topics missing); one line."""


async def produce_file_async(
    path: Path,
    kafka: KafkaSettings,
    topics: TopicSettings,
    rate: float = 0.0,
    on_progress: ProgressCallback | None = None,
    *,
    include_invalid: bool = False,
    on_malformed: MalformedCallback | None = None,
    max_batch_age_s: float = _MAX_BATCH_AGE_S,
) -> ProduceReport:
    """Validate and send every line of `path`, and wait until the broker acknowledged them.
    A record waits at most `max_batch_age_s` in its batch before the batch is sent.

    Malformed lines are counted and passed to `on_malformed`; they are sent only with
    `include_invalid`. `on_progress` gets the running report every thousand lines and at the
    end. Raises `ProduceError` when nothing can be sent, `OSError` when `path` cannot be read.
    """
    with path.open("rb") as lines:
        await _require_topics(kafka, topics)
        # acks="all": a record counted as sent is one the cluster will not lose.
        producer = AIOKafkaProducer(
            **kafka.aiokafka_options(), acks="all", max_batch_size=_MAX_BATCH_BYTES
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise ProduceError(f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}") from None
        report = ProduceReport()
        started = time.perf_counter()
        try:
            partitions = {t: len(await producer.partitions_for(t)) for t in topics.inputs}
            sender = _Sender(
                BatchWriter(producer, report, max_batch_age_s),
                topics,
                partitions,
                RateLimiter(rate),
                include_invalid,
                on_malformed,
            )
            await sender.send_lines(lines, on_progress)
        finally:
            await producer.stop()
            report.elapsed_s = time.perf_counter() - started
    if on_progress:
        on_progress(report)
    return report


def produce_file(
    path: Path,
    kafka: KafkaSettings,
    topics: TopicSettings,
    rate: float = 0.0,
    on_progress: ProgressCallback | None = None,
    *,
    include_invalid: bool = False,
    on_malformed: MalformedCallback | None = None,
) -> ProduceReport:
    """Blocking form of `produce_file_async`, for the CLI and scripts."""
    return asyncio.run(
        produce_file_async(
            path,
            kafka,
            topics,
            rate,
            on_progress,
            include_invalid=include_invalid,
            on_malformed=on_malformed,
        )
    )


async def _require_topics(kafka: KafkaSettings, topics: TopicSettings) -> None:
    # Checked up front: tansu would silently create a missing topic with its own partition
    # count (breaking co-partitioning), and Kafka without auto-creation would stall each send.
    try:
        existing = await existing_topics(kafka)
    except KafkaError as exc:
        raise ProduceError(f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}") from None
    missing = [name for name in topics.inputs if name not in existing]
    if missing:
        raise ProduceError(
            f"input topics missing on {kafka.bootstrap_servers}: {', '.join(missing)} "
            "(`returnrisk dev up` creates them)"
        )


@dataclass
class _Sender:
    writer: BatchWriter
    topics: TopicSettings
    partitions: dict[str, int]
    limiter: RateLimiter
    include_invalid: bool
    on_malformed: MalformedCallback | None
    _round_robin: itertools.count[int] = field(default_factory=itertools.count)

    async def send_lines(
        self, lines: Iterable[bytes], on_progress: ProgressCallback | None
    ) -> None:
        report = self.writer.report
        for line_no, line in enumerate(lines, start=1):
            report.lines_read = line_no
            if line_no % _CHECK_EVERY_LINES == 0:
                await self.writer.send_stale()
                if on_progress:
                    on_progress(report)
            raw = line.rstrip(b"\r\n")
            if is_blank(raw):
                report.blank_lines += 1
                continue
            routed = self._route(raw, line_no)
            if routed is None:
                continue
            outgoing, valid = routed
            partition = self._partition(outgoing)
            await self.writer.append(
                outgoing.topic, partition, outgoing.key, outgoing.value, valid, line_no
            )
            pause = self.limiter.pause_after_send()
            if pause:
                await self.writer.send_open()  # ahead of schedule: send now, then wait
                await asyncio.sleep(pause)
        await self.writer.settle()

    def _route(self, raw: bytes, line_no: int) -> tuple[Outgoing, bool] | None:
        """(record, is valid), or None for a malformed line that is not to be sent."""
        routed = route(raw, line_no, self.topics)
        if isinstance(routed, Outgoing):
            return routed, True
        malformed = routed
        self.writer.report.malformed.append(malformed)
        if self.on_malformed:
            self.on_malformed(malformed)
        return (route_invalid(raw, self.topics), False) if self.include_invalid else None

    def _partition(self, outgoing: Outgoing) -> int:
        count = self.partitions[outgoing.topic]
        if outgoing.key is None:  # only malformed lines sent with --include-invalid
            return next(self._round_robin) % count
        return _key_hash(outgoing.key) % count


@lru_cache(maxsize=1 << 16)
def _key_hash(key: bytes) -> int:
    """The default partitioner's hash (`murmur2(key) & 0x7fffffff`), cached: customers repeat
    and aiokafka's murmur2 is pure Python."""
    return int(murmur2(key)) & 0x7FFFFFFF
