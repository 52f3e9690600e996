"""Batches from the agent through the pipeline to the broker, in overlapping stages, in order.

take (faust's loop) -> handle (the pipeline's process) -> deliver (produce, wait for the
broker's acks, ack the input). Each stage works on its own batch while the others work on
theirs: faust reads batch N+2 while the pipeline handles N+1 and the broker acknowledges N's
outputs. Every batch passes every stage in the order taken, so a partition's offsets are acked
in order, and an offset is acked only after its batch's outputs are delivered (at least once).
One-batch queues between the stages bound what is in flight; a batch taken while another
still waits to be handled joins it (up to the batch size), so a worker behind on its input
handles fewer, larger batches (less Redis and pipeline overhead per event), while one that keeps
up handles each batch as soon as it is taken. A delivered batch is settled in
the pipeline (its applied held events are done) with the next handle call, so delivery never
waits for the pipeline.

Infrastructure errors are retried until they pass, never skipped: a failed handle is handled
again (features are idempotent), a failed delivery is produced again (outputs are deterministic
bytes). Any other error ends the flow, and the agent raises it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

from streams import metrics
from streams.decisions import OutputRecord
from streams.micro_batch import BatchOutput, ConsumerProgress, InputRecord
from streams.offload import BatchHandler, Released, Sequenced
from streams.settings import REDIS_ERRORS

logger = logging.getLogger(__name__)

RETRY_DELAY_S = (0.5, 1, 2, 5, 10)
RETRIED = (
    *REDIS_ERRORS,
    OSError,  # streams.offload.PipelineProcessDied too
    KafkaError,
    ProducerSendError,
)
"""Errors of the infrastructure (Redis, the broker, the pipeline's process): retried."""

T = TypeVar("T")
Send = Callable[[OutputRecord], Awaitable[Awaitable[Any]]]
"""Queue one record with the producer; the awaitable it returns is the broker's ack."""


AHEAD = 2
"""Batches sent to the pipeline before the first one's outputs are back."""


@dataclass(frozen=True, slots=True)
class Batch:
    records: list[InputRecord]
    ack: Callable[[], None]
    """Lets the input's offsets be committed; called once the outputs are delivered."""
    progress: ConsumerProgress
    """The consumer's offsets when the batch was taken: the high-water marks of the fetches that
    delivered its records, or later ones (never earlier), for event-time alignment."""
    taken_at: float = field(default_factory=time.monotonic)

    def joined(self, later: Batch) -> Batch:
        """This batch and one taken after it, as one (acked in the order taken)."""
        first, second = self.ack, later.ack

        def ack() -> None:
            first()
            second()

        return Batch(self.records + later.records, ack, later.progress, self.taken_at)


@dataclass(frozen=True, slots=True)
class _Sent:
    batch: Batch
    sequence: int
    task: asyncio.Future[BatchOutput]


class BatchFlow:
    def __init__(
        self,
        pipeline: BatchHandler,
        progress: Callable[[], Awaitable[ConsumerProgress]],
        send: Send,
        *,
        join_up_to: int,
    ) -> None:
        """`join_up_to`: the most records of batches joined while they wait to be handled."""
        self._pipeline, self._progress, self._send = pipeline, progress, send
        self._join_up_to = join_up_to
        self._taken: asyncio.Queue[Batch] = asyncio.Queue(maxsize=1)
        self._handled: asyncio.Queue[tuple[Batch, BatchOutput]] = asyncio.Queue(maxsize=1)
        self._in_flight = 0
        self._settled: list[Released] = []  # delivered, not yet settled in the pipeline
        self._stages: set[asyncio.Task[None]] = set()
        self._sequence = itertools.count()

    def start(self) -> None:
        self._stages = {
            asyncio.create_task(self._handle_stage(), name="returnrisk-handle"),
            asyncio.create_task(self._deliver_stage(), name="returnrisk-deliver"),
        }

    async def put(self, batch: Batch) -> None:
        """Queue a batch (waits while the stages are full); raises the error that ended a
        stage."""
        if self._taken.full():
            waiting = self._taken.get_nowait()
            if self._joinable(waiting, batch):
                self._taken.put_nowait(waiting.joined(batch))
                return
            self._taken.put_nowait(waiting)
        self._in_flight += 1
        put = asyncio.ensure_future(self._taken.put(batch))
        await asyncio.wait({put, *self._stages}, return_when=asyncio.FIRST_COMPLETED)
        for stage in self._stages:
            if stage.done():
                put.cancel()
                stage.result()  # the stages never return: this raises

    def _joinable(self, waiting: Batch, batch: Batch) -> bool:
        """Batches of one assignment, together no larger than a batch may be."""
        size = len(waiting.records) + len(batch.records)
        same_assignment = waiting.progress.generation == batch.progress.generation
        return same_assignment and size <= self._join_up_to

    async def apply_held(self, generation: int) -> None:
        """An empty batch when no batch is in flight and the pipeline may have work without
        one: held events whose partitions have caught up, settling, a new assignment."""
        if self._in_flight:
            return
        if self._settled or await self._pipeline.waiting(generation):
            if not self._in_flight:
                await self.put(Batch([], lambda: None, await self._progress()))

    async def stop(self) -> None:
        for stage in self._stages:
            stage.cancel()
        await asyncio.gather(*self._stages, return_exceptions=True)

    async def _handle_stage(self) -> None:
        """Send up to `AHEAD` batches to the pipeline before the first one's outputs are back,
        so it always has the next; pass the outputs on in order."""
        window: deque[_Sent] = deque()
        failures = 0
        while True:
            taking = None
            if len(window) < AHEAD:
                taking = asyncio.ensure_future(self._taken.get())
            waits = ({window[0].task} if window else set()) | ({taking} if taking else set())
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if taking is not None:
                if taking in done:
                    sequence = next(self._sequence)
                    oldest = window[0].sequence if window else sequence
                    window.append(self._send_batch(taking.result(), sequence, oldest))
                else:
                    taking.cancel()
            if not window or not window[0].task.done():
                continue
            try:
                output = window[0].task.result()
            except RETRIED as exc:  # that batch again, then those sent behind it (refused)
                delay = RETRY_DELAY_S[min(failures, len(RETRY_DELAY_S) - 1)]
                failures += 1
                metrics.BATCH_RETRIES.inc()
                logger.warning(
                    "handle failed (attempt %d): %s; retrying in %s s", failures, exc, delay
                )
                await asyncio.gather(*(s.task for s in window), return_exceptions=True)
                await asyncio.sleep(delay)
                oldest = window[0].sequence
                window = deque(self._send_batch(s.batch, s.sequence, oldest) for s in window)
                continue
            failures = 0
            sent = window.popleft()
            await self._handled.put((sent.batch, output))

    def _send_batch(self, batch: Batch, sequence: int, oldest: int) -> _Sent:
        """`oldest`: the first batch not handled yet (a new pipeline starts there)."""
        handling = self._handle(batch, sequence, oldest)
        return _Sent(batch, sequence, asyncio.ensure_future(handling))

    async def _handle(self, batch: Batch, sequence: int, oldest: int) -> BatchOutput:
        settled = list(self._settled)
        with metrics.PROCESSING_SECONDS.time():
            output = await self._pipeline.handle(
                Sequenced(sequence, oldest), batch.records, batch.progress, settled
            )
        self._settled = [r for r in self._settled if all(r is not s for s in settled)]
        return output

    async def _deliver_stage(self) -> None:
        while True:
            batch, output = await self._handled.get()
            await retrying("delivery", partial(self._deliver, output))
            batch.ack()
            if output.released:
                self._settled.append(output.released)
            self._in_flight -= 1
            if batch.records:
                metrics.BATCH_SIZE.observe(len(batch.records))
                metrics.PROCESSING_LATENCY_SECONDS.observe(time.monotonic() - batch.taken_at)
            if batch.records or output.records:
                now = time.time()
                for moment in output.source_times:
                    metrics.END_TO_END_SECONDS.observe(max(0.0, now - moment.timestamp()))
                metrics.LAST_BATCH.set(now)

    async def _deliver(self, output: BatchOutput) -> None:
        deliveries = [await self._send(record) for record in output.records]
        await asyncio.gather(*deliveries)


async def retrying(step: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()` until it passes, waiting longer after each infrastructure error."""
    delays = itertools.chain(RETRY_DELAY_S, itertools.repeat(RETRY_DELAY_S[-1]))
    for number, delay in enumerate(delays, start=1):
        try:
            return await attempt()
        except RETRIED as exc:
            metrics.BATCH_RETRIES.inc()
            logger.warning("%s failed (attempt %d): %s; retrying in %s s", step, number, exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the delays never end")
