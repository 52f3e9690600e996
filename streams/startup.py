"""What a worker checks before it consumes: a worker that cannot run says why, once, and exits.

Every cause names the setting that fixes it: a bad or missing policy or segments file, no
promoted model or an unreadable registry (checked by building the pipeline exactly as the
pipeline's process will), Redis or the broker unreachable, input or output topics missing or
input topics not co-partitioned. Redis and the broker are tried again until the start deadline
(`RETURNRISK_WORKER_START_TIMEOUT_S`), since in a fresh deployment they may start after the
worker; everything else fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from streams.build import build_pipeline
from streams.settings import (
    REDIS_ERRORS,
    KafkaSettings,
    RedisSettings,
    TopicSettings,
    kafka_settings,
    redis_settings,
    topic_settings,
    worker_settings,
)
from streams.start_errors import CannotStart, needs

RETRY_S = 0.5


def check_before_start() -> None:
    """Everything the worker needs, in the order that fails fastest; raises `CannotStart`."""
    worker = worker_settings()
    deadline = time.monotonic() + worker.start_timeout_s
    with needs("RETURNRISK_WORKER_DATA_DIR", "cannot write faust's data folder"):
        worker.data_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=worker.data_dir).close()
    wait_for_redis(redis_settings(), deadline)  # a cluster client is built only with a node up
    build_pipeline()  # policy, registry, model: the pipeline's process builds the same
    check_topics(kafka_settings(), topic_settings(), deadline)


def wait_for_redis(settings: RedisSettings, deadline: float) -> None:
    """PING until Redis answers or the deadline passes (a cluster client is built in the loop:
    building it already needs a node)."""
    while True:
        client = None
        try:
            client = settings.connect(socket_connect_timeout=RETRY_S * 2)
            client.ping()
            return
        except REDIS_ERRORS as exc:
            if time.monotonic() >= deadline:
                raise CannotStart(
                    f"Redis at {settings.url_redacted} does not answer: {exc}",
                    "RETURNRISK_REDIS_URL",
                ) from exc
            time.sleep(RETRY_S)
        finally:
            if client is not None:
                client.close()


def check_topics(kafka: KafkaSettings, topics: TopicSettings, deadline: float) -> None:
    """Reach the broker (until the deadline) and find every topic the worker reads and writes,
    the input topics with one partition count (they are co-partitioned by customer)."""
    asyncio.run(_check_topics(kafka, topics, deadline))


async def _check_topics(kafka: KafkaSettings, topics: TopicSettings, deadline: float) -> None:
    # Logging is not set up yet: without a handler, aiokafka's every failed connection would be
    # printed. The cause is reported once, by `CannotStart`.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    client = AIOKafkaClient(**kafka.aiokafka_options())
    try:
        while True:
            try:
                await asyncio.wait_for(client.bootstrap(), max(deadline - time.monotonic(), 0.1))
                break
            except (KafkaError, TimeoutError, OSError) as exc:
                if time.monotonic() >= deadline:
                    raise CannotStart(
                        f"the Kafka broker at {kafka.bootstrap_servers} does not answer: "
                        f"{exc or type(exc).__name__}",
                        "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS",
                    ) from exc
                await asyncio.sleep(RETRY_S)
        metadata = await client.fetch_all_metadata()
    finally:
        await client.close()
    partitions = {
        topic: len(metadata.partitions_for_topic(topic) or ())
        for topic in [*topics.inputs, *topics.outputs]
    }
    missing = [topic for topic, count in partitions.items() if not count]
    if missing:
        raise CannotStart(
            f"topics missing on {kafka.bootstrap_servers}: {', '.join(missing)}; create them "
            "(`returnrisk dev up` does locally)",
            "RETURNRISK_TOPIC_*",
        )
    counts = {topic: partitions[topic] for topic in topics.inputs}
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{topic} {count}" for topic, count in counts.items())
        raise CannotStart(
            f"input topics must have one partition count (they are co-partitioned by "
            f"customer): {shown}",
            "RETURNRISK_TOPIC_*",
        )
