"""The faust app: consumes the four input topics and runs each micro-batch through the pipeline.

Start it with `returnrisk worker` or `faust -A streams.app worker`. One agent, `scorer`, reads
`orders`, `returns`, `campaign-touches` and `customers` (co-partitioned by customer_id) in
batches (`take_events`), hands the raw bytes to `ScoringPipeline.handle` in a worker thread,
produces what it returns and waits until the broker has every record. Only then does the batch
end and faust ack its offsets (at least once): features are idempotent and score ids
deterministic, so a redelivered batch double-counts nothing.

Between batches a timer runs an empty batch, so events held back by event-time alignment
(streams/alignment.py) are applied when their partition goes idle.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from datetime import datetime
from typing import cast

import faust
import redis
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from faust.streams import Stream
from faust.types import TP
from prometheus_client import start_http_server

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.registry import feature_set_hash
from models.policy import Policy
from models.registry import Registry
from returnrisk.settings import (
    kafka_settings,
    redis_settings,
    registry_settings,
    topic_settings,
    worker_settings,
)
from streams import metrics
from streams.alignment import Alignment, ConsumerOffsets
from streams.faust_app import FAUST_LEVELS, create_app, keep_root_logger_at
from streams.held import HeldEvents
from streams.model_source import PromotedModel, load_checked
from streams.pipeline import ConsumerProgress, InputRecord, ScoringPipeline
from streams.segment_rates import SegmentRates

logger = logging.getLogger(__name__)

RETRY_DELAY_S = (0.5, 1, 2, 5, 10)
HELD_CHECK_S = 1.0
"""How often, between batches, held events are checked for partitions that have caught up."""


app = create_app(worker_settings().app_id)
keep_root_logger_at(app, FAUST_LEVELS[worker_settings().loglevel])
_topics = topic_settings()
inputs = app.topic(*_topics.inputs, key_type=bytes, value_type=bytes)


def build_pipeline() -> ScoringPipeline:
    """Connect the feature store and load the promoted (and shadow) model."""
    worker, config = worker_settings(), FeatureConfig()
    redis_conf = redis_settings()
    client = redis.Redis.from_url(redis_conf.url.get_secret_value(), **redis_conf.client_options())
    store = RedisFeatureStore(
        client,
        prefix=worker.redis_key_prefix,
        on_round_trip=metrics.REDIS_SECONDS.observe,
        cache_customers=worker.state_cache_customers,
    )
    registry = Registry(registry_settings().dir)
    expected = feature_set_hash(config)
    promoted = PromotedModel(registry, feature_set_hash=expected, poll_s=worker.model_poll_s)
    shadow = (
        load_checked(registry.path(worker.shadow_version), expected)
        if worker.shadow_version
        else None
    )
    policy = Policy.load(worker.policy_file)
    rates = SegmentRates(
        client,
        prefix=f"{worker.redis_key_prefix}:segment",
        window_days=policy.config.alerts.segment_return_spike.window_days,
    )
    held = HeldEvents(client, prefix=worker.redis_key_prefix)
    alignment = Alignment(_topics.inputs)
    return ScoringPipeline(
        store,
        promoted.current,
        _topics,
        config,
        held,
        alignment,
        policy=policy,
        segment_rates=rates,
        shadow=shadow,
    )


class _Scorer:
    """The pipeline, built by the agent, and the lock that keeps the agent's batches and the
    timer's empty ones one at a time."""

    pipeline: ScoringPipeline | None = None
    lock = asyncio.Lock()
    generation: int | None = None  # of the assignment `starts` belongs to
    starts: dict[tuple[str, int], int] = {}
    admin: AIOKafkaAdminClient | None = None


@app.agent(inputs, name="scorer")
async def scorer(stream: faust.StreamT[bytes]) -> None:
    worker = worker_settings()
    _Scorer.pipeline = await asyncio.to_thread(build_pipeline)
    batches = cast(Stream[bytes], stream)  # `take_events` is not on the StreamT protocol
    async for events in batches.take_events(worker.batch_size, within=worker.batch_wait_s):
        records = [
            InputRecord(
                event.message.topic,
                event.message.partition,
                event.message.offset,
                event.message.key,
                event.message.value or b"",  # a tombstone is dead-lettered as empty
            )
            for event in events
        ]
        async with _Scorer.lock:
            await _process(_Scorer.pipeline, records)


async def apply_held() -> None:
    """An empty batch: applies held events whose partitions have caught up, and loads those
    of a new assignment even when no record comes."""
    pipeline = _Scorer.pipeline
    if pipeline is None or _Scorer.lock.locked():
        return
    if pipeline.waiting(app.consumer_generation_id):
        async with _Scorer.lock:
            await _process(pipeline, [])


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
    return ConsumerProgress(generation, ConsumerOffsets(highwaters, _Scorer.starts))


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


async def _process(pipeline: ScoringPipeline, records: list[InputRecord]) -> None:
    """Handle and produce one batch, retrying infrastructure errors until they pass.

    Returning ends the batch and lets faust ack its offsets, so a batch that cannot be
    finished must not return, nor raise: `take_events` acks even a batch whose body raised.
    """
    delays = itertools.chain(RETRY_DELAY_S, itertools.repeat(RETRY_DELAY_S[-1]))
    for attempt, delay in enumerate(delays, start=1):
        try:
            progress = await _progress()
            with metrics.PROCESSING_SECONDS.time():
                output = await asyncio.to_thread(pipeline.handle, records, progress)
            deliveries = [
                await app.producer.send(r.topic, r.key, r.value, None, None, None)
                for r in output.records
            ]
            await asyncio.gather(*deliveries)
        except (redis.RedisError, OSError, KafkaError, faust.exceptions.ProducerSendError) as exc:
            metrics.BATCH_RETRIES.inc()
            logger.warning("batch failed (attempt %d): %s; retrying in %s s", attempt, exc, delay)
            await asyncio.sleep(delay)
            continue
        pipeline.settle(output)
        if records or output.records:
            _observe_latency(output.source_times)
        return


def _observe_latency(source_times: list[datetime]) -> None:
    now = time.time()
    for moment in source_times:
        metrics.END_TO_END_SECONDS.observe(max(0.0, now - moment.timestamp()))
    metrics.LAST_BATCH.set(now)


async def _serve_metrics() -> None:
    worker = worker_settings()
    if worker.metrics_port:
        start_http_server(worker.metrics_port, addr=worker.metrics_host)
        logger.info("metrics on http://%s:%d/metrics", worker.metrics_host, worker.metrics_port)


app.task(_serve_metrics)
