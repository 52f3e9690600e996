"""The faust app: consumes the four input topics and runs each micro-batch through the pipeline.

Start it with `returnrisk worker` or `faust -A streams.app worker`. One agent, `scorer`, reads
`orders`, `returns`, `campaign-touches` and `customers` (co-partitioned by customer_id) in
batches (`take_events`), hands the raw bytes to `ScoringPipeline.handle` in a worker thread,
produces what it returns and waits until the broker has every record. Only then does the batch
end and faust ack its offsets (at least once): features are idempotent and score ids
deterministic, so a redelivered batch double-counts nothing.
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
from faust.streams import Stream
from prometheus_client import start_http_server

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.registry import feature_set_hash
from models.policy import Policy
from models.registry import Registry
from returnrisk.settings import (
    redis_settings,
    registry_settings,
    topic_settings,
    worker_settings,
)
from streams import metrics
from streams.faust_app import FAUST_LEVELS, create_app, keep_root_logger_at
from streams.model_source import PromotedModel, load_checked
from streams.pipeline import InputRecord, ScoringPipeline
from streams.segment_rates import SegmentRates

logger = logging.getLogger(__name__)

RETRY_DELAY_S = (0.5, 1, 2, 5, 10)


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
    return ScoringPipeline(
        store, promoted.current, _topics, config, policy=policy, segment_rates=rates, shadow=shadow
    )


@app.agent(inputs, name="scorer")
async def scorer(stream: faust.StreamT[bytes]) -> None:
    worker = worker_settings()
    pipeline = await asyncio.to_thread(build_pipeline)
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
        await _process(pipeline, records)


async def _process(pipeline: ScoringPipeline, records: list[InputRecord]) -> None:
    """Handle and produce one batch, retrying infrastructure errors until they pass.

    Returning ends the batch and lets faust ack its offsets, so a batch that cannot be
    finished must not return, nor raise: `take_events` acks even a batch whose body raised.
    """
    delays = itertools.chain(RETRY_DELAY_S, itertools.repeat(RETRY_DELAY_S[-1]))
    for attempt, delay in enumerate(delays, start=1):
        try:
            with metrics.PROCESSING_SECONDS.time():
                output = await asyncio.to_thread(pipeline.handle, records)
            deliveries = [
                await app.producer.send(r.topic, r.key, r.value, None, None, None)
                for r in output.records
            ]
            await asyncio.gather(*deliveries)
        except (redis.RedisError, OSError, faust.exceptions.ProducerSendError) as exc:
            metrics.BATCH_RETRIES.inc()
            logger.warning("batch failed (attempt %d): %s; retrying in %s s", attempt, exc, delay)
            await asyncio.sleep(delay)
            continue
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
