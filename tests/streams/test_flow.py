"""The worker's batch flow: overlapping stages that still apply, deliver and ack in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import redis

from streams import flow as flow_module
from streams.alignment import ConsumerOffsets
from streams.decisions import OutputRecord
from streams.flow import Batch, BatchFlow
from streams.micro_batch import BatchOutput, ConsumerProgress, InputRecord
from streams.offload import InlinePipeline, OrderedPipeline, OutOfOrder, Sequenced

PROGRESS = ConsumerProgress(0, ConsumerOffsets({}, {}))


class RecordingPipeline:
    """Stands in for `ScoringPipeline`: remembers what it applied, fails where told."""

    def __init__(
        self,
        fail_first_attempt_of: set[int] = frozenset(),  # type: ignore[assignment]
        seconds_per_batch: float = 0.0,
    ) -> None:
        self.applied: list[int] = []
        self.sizes: list[int] = []
        self.settled: list[dict[int, list[str]]] = []
        self._fail = set(fail_first_attempt_of)
        self._seconds = seconds_per_batch

    def handle(self, records: Sequence[InputRecord], progress: ConsumerProgress) -> BatchOutput:
        batch = records[0].offset
        if batch in self._fail:
            self._fail.discard(batch)
            raise redis.ConnectionError(f"Redis went away during batch {batch}")
        time.sleep(self._seconds)
        self.applied.extend(record.offset for record in records)
        self.sizes.append(len(records))
        return BatchOutput(
            records=[OutputRecord("scores", b"k", str(batch).encode())],
            released={0: [f"held-{batch}"]},
        )

    def settle(self, released: dict[int, list[str]]) -> None:
        self.settled.append(released)

    def waiting(self, generation: int) -> bool:
        return False


def _batch(number: int, acks: list[int], progress: ConsumerProgress = PROGRESS) -> Batch:
    records = [InputRecord("orders", 0, number, b"k", b"{}")]
    return Batch(records, lambda: acks.append(number), progress)


async def _run(
    pipeline: RecordingPipeline,
    batches: int,
    join_up_to: int = 1,
    generation_of: Callable[[int], int] = lambda number: 0,
) -> tuple[list[int], list[bytes]]:
    acks: list[int] = []
    delivered: list[bytes] = []

    async def send(record: OutputRecord) -> asyncio.Future[Any]:
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # the broker acknowledges a little later, and the ack must wait for it
        asyncio.get_running_loop().call_later(0.005, delivery.set_result, None)
        delivery.add_done_callback(lambda _: delivered.append(record.value))
        return delivery

    async def progress() -> ConsumerProgress:
        return PROGRESS

    flow = BatchFlow(InlinePipeline(pipeline), progress, send, join_up_to=join_up_to)  # type: ignore[arg-type]
    flow.start()
    for number in range(batches):
        taken = ConsumerProgress(generation_of(number), PROGRESS.offsets)
        await flow.put(_batch(number, acks, taken))
    for _ in range(500):
        if len(acks) == batches:
            break
        await asyncio.sleep(0.01)
    await flow.stop()
    return acks, delivered


def test_batches_are_applied_delivered_and_acked_in_order() -> None:
    pipeline = RecordingPipeline()
    acks, delivered = asyncio.run(_run(pipeline, 20))
    assert pipeline.applied == list(range(20))
    assert delivered == [str(n).encode() for n in range(20)]
    assert acks == list(range(20))
    # each delivered batch is settled with a later handle call, never before its delivery
    assert {ids[0] for released in pipeline.settled for ids in released.values()} <= {
        f"held-{n}" for n in range(19)
    }


def test_a_failed_batch_is_handled_again_before_the_batches_sent_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(flow_module, "RETRY_DELAY_S", (0.01,))
    pipeline = RecordingPipeline(fail_first_attempt_of={3, 7})
    acks, delivered = asyncio.run(_run(pipeline, 12))
    assert pipeline.applied == list(range(12))  # nothing applied twice, nothing out of order
    assert acks == list(range(12))
    assert delivered == [str(n).encode() for n in range(12)]


def test_a_pipeline_refuses_a_batch_sent_behind_one_not_handled_yet() -> None:
    ordered = OrderedPipeline(RecordingPipeline())  # type: ignore[arg-type]
    record = [InputRecord("orders", 0, 4, b"k", b"{}")]
    with pytest.raises(OutOfOrder):  # a new pipeline starts at the oldest batch in flight
        ordered.handle(Sequenced(5, 4), record, PROGRESS, [])
    ordered.handle(Sequenced(4, 4), record, PROGRESS, [])
    with pytest.raises(OutOfOrder):
        ordered.handle(Sequenced(6, 4), record, PROGRESS, [])
    ordered.handle(Sequenced(5, 5), record, PROGRESS, [])


def test_batches_taken_while_the_pipeline_is_busy_are_joined_and_still_acked_in_order() -> None:
    pipeline = RecordingPipeline(seconds_per_batch=0.02)
    acks, _ = asyncio.run(_run(pipeline, 30, join_up_to=4))
    assert pipeline.applied == list(range(30))
    assert acks == list(range(30))
    assert max(pipeline.sizes) == 4, "batches waiting behind a busy pipeline are joined"
    assert len(pipeline.sizes) < 30


def test_batches_of_different_assignments_are_never_joined() -> None:
    pipeline = RecordingPipeline(seconds_per_batch=0.02)
    acks, _ = asyncio.run(_run(pipeline, 12, join_up_to=4, generation_of=lambda n: n))
    assert pipeline.sizes == [1] * 12
    assert acks == list(range(12))
