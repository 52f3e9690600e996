"""The faust app: consumes the four input topics and runs each micro-batch through the pipeline.

Start it with `returnrisk worker`, which checks what the worker needs first (streams/startup.py).
One agent, `scorer`, reads `orders`, `returns`, `campaign-touches` and `customers`
(co-partitioned by customer_id) in batches (`take_events`) and passes them to the flow
(streams/flow.py): `ScoringPipeline.handle` in the pipeline's own process (streams/offload.py),
then produce what it returns and wait until the broker has every record. Only then are the
batch's offsets acked (at least once): features are idempotent and a redelivered event is
scored with the row it was first scored with, so a redelivered batch double-counts nothing and
repeats its records exactly.

When the flow is idle a timer runs an empty batch, so events held back by event-time alignment
(streams/alignment.py) are applied when their partition goes idle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any, cast

import faust
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from faust.streams import Stream
from faust.types import TP, EventT

from streams import metrics
from streams.alignment import ConsumerOffsets
from streams.build import build_pipeline
from streams.decisions import OutputRecord
from streams.dependencies import DependencyWatch
from streams.faust_app import FAUST_LEVELS, create_app, keep_root_logger_at
from streams.flow import Batch, BatchFlow, retrying
from streams.gc_pauses import tame_collections
from streams.health import serve_health
from streams.lifecycle import Lifecycle
from streams.micro_batch import ConsumerProgress, InputRecord
from streams.offload import BatchHandler, InlinePipeline, PipelineProcess
from streams.settings import kafka_settings, redis_settings, topic_settings, worker_settings

logger = logging.getLogger(__name__)

HELD_CHECK_S = 0.1
"""How often, between batches, held events are checked for partitions that have caught up, or
for other workers' partitions to finish a day (streams/catalog_gate.py: in a backlog, workers
move through the days together, each day's step waiting for the others' next batch)."""
DEPENDENCY_CHECK_S = 3.0
"""How often Redis and the broker are probed (streams/dependencies.py)."""


app = create_app(worker_settings().app_id)
keep_root_logger_at(app, FAUST_LEVELS[worker_settings().loglevel])
_topics = topic_settings()
inputs = app.topic(*_topics.inputs, key_type=bytes, value_type=bytes)
lifecycle = Lifecycle(
    start_timeout_s=worker_settings().start_timeout_s,
    stop_timeout_s=worker_settings().stop_timeout_s,
)


class _Scorer:
    """The flow of batches, started by the agent (the timer's empty batches go through it)."""

    flow: BatchFlow | None = None
    generation: int | None = None  # of the assignment `starts` belongs to
    starts: dict[tuple[str, int], int] = {}
    admin: AIOKafkaAdminClient | None = None


@app.agent(inputs, name="scorer")
async def scorer(stream: faust.StreamT[bytes]) -> None:
    """Take batches and hand them to the flow, which handles, produces and acks them in order
    while the next batch is read."""
    worker = worker_settings()
    try:
        pipeline = await _start_pipeline()
    except Exception as exc:  # noqa: BLE001 - the worker exits with the cause, never restarts
        lifecycle.fatal(f"cannot start the pipeline: {exc}")
        return
    lifecycle.on_forced_exit(pipeline.kill)
    tame_collections("worker", metrics.GC_PAUSE_SECONDS)
    flow = _Scorer.flow = BatchFlow(pipeline, _progress, _send, join_up_to=worker.batch_size)
    flow.start()
    lifecycle.pipeline_running(True)
    batches = cast(Stream[bytes], stream)  # `take_events` is not on the StreamT protocol
    try:
        async for events in batches.take_events(worker.batch_size, within=worker.batch_wait_s):
            for event in events:
                # `take_events` acks the batch when the next is taken; this reference keeps its
                # offsets from being committed until the flow has delivered its outputs.
                event.message.incref()
            records = [_record(event) for event in events]
            # a new assignment asks the group coordinator for offsets: an outage is waited out
            progress = await retrying("reading the group's offsets", _progress)
            await flow.put(Batch(records, partial(_ack, events), progress))
    except Exception as exc:  # noqa: BLE001 - not an outage (those are retried): a bug
        lifecycle.fatal(f"the pipeline stopped: {type(exc).__name__}: {exc}")
        logger.error("where the pipeline stopped", exc_info=exc)
    finally:
        lifecycle.pipeline_running(False)
        await flow.stop()
        await asyncio.to_thread(pipeline.stop)


def _record(event: EventT[bytes]) -> InputRecord:
    message = event.message
    value = message.value or b""  # a tombstone is dead-lettered as empty
    return InputRecord(message.topic, message.partition, message.offset, message.key, value)


def _ack(events: Sequence[EventT[bytes]]) -> None:
    for event in events:
        event.ack()


async def _send(record: OutputRecord) -> Awaitable[Any]:
    return await app.producer.send(record.topic, record.key, record.value, None, None, None)


async def _start_pipeline() -> BatchHandler:
    worker = worker_settings()
    if not worker.pipeline_process:
        return InlinePipeline(await asyncio.to_thread(build_pipeline))
    process = PipelineProcess(build_pipeline, FAUST_LEVELS[worker.loglevel])
    await process.start()
    return process


async def apply_held() -> None:
    """Held events are applied when their partitions catch up, and a new assignment's held
    events are loaded, even when no record comes."""
    if _Scorer.flow is None:
        return
    try:
        await _Scorer.flow.apply_held(app.consumer_generation_id)
    except KafkaError as exc:  # the broker is away (an outage, a rebalance): the next tick
        logger.warning("held events not checked: the broker did not answer: %r", exc)


app.timer(interval=HELD_CHECK_S)(apply_held)


async def _progress() -> ConsumerProgress:
    """High-water marks of the assigned input partitions, and where this generation started
    reading them (streams/alignment.py)."""
    consumer, generation = app.consumer, app.consumer_generation_id
    assigned = [tp for tp in consumer.assignment() if tp.topic in _topics.inputs]
    if _Scorer.generation != generation:
        _Scorer.starts = await _start_offsets(assigned)
        _Scorer.generation = generation
    highwaters = {(tp.topic, tp.partition): consumer.highwater(tp) for tp in assigned}
    partitions = consumer.topic_partitions(_topics.inputs[0])  # the group's metadata
    offsets = ConsumerOffsets(highwaters, _Scorer.starts)
    return ConsumerProgress(generation, offsets, partitions)


async def _start_offsets(assigned: list[TP]) -> dict[tuple[str, int], int]:
    """The group's committed offset of each partition, else its earliest offset: where a new
    assignment starts reading."""
    if _Scorer.admin is None:
        _Scorer.admin = AIOKafkaAdminClient(**kafka_settings().aiokafka_options())
        await _Scorer.admin.start()
    committed = await _Scorer.admin.list_consumer_group_offsets(
        worker_settings().app_id,
        partitions=[TopicPartition(tp.topic, tp.partition) for tp in assigned],
    )
    starts = {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
    uncommitted = [tp for tp in assigned if starts.get((tp.topic, tp.partition), -1) < 0]
    if uncommitted:
        earliest = await app.consumer.earliest_offsets(*uncommitted)
        starts.update(((tp.topic, tp.partition), offset) for tp, offset in earliest.items())
    return starts


async def _serve_health() -> None:
    worker = worker_settings()
    if worker.metrics_port:
        serve_health(worker.metrics_host, worker.metrics_port, lambda: lifecycle.ready)
        logger.info(
            "metrics and readiness on http://%s:%d/metrics and /ready",
            worker.metrics_host,
            worker.metrics_port,
        )


app.task(_serve_health)


@app.on_partitions_assigned.connect
def _joined(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    lifecycle.joined()


_dependencies = DependencyWatch(redis_settings(), kafka_settings())


async def watch_dependencies() -> None:
    """Probe Redis and the broker; a worker not ready by its start deadline exits, naming
    what is missing."""
    await _dependencies.check()
    if lifecycle.start_overdue():
        missing = [f"{name} unreachable ({why})" for name, why in _dependencies.problems.items()]
        if not missing:
            missing = ["the consumer has not joined its group"]
        lifecycle.fatal(
            f"not ready within {worker_settings().start_timeout_s} s "
            f"(RETURNRISK_WORKER_START_TIMEOUT_S): {'; '.join(missing)}"
        )


app.timer(interval=DEPENDENCY_CHECK_S)(watch_dependencies)
