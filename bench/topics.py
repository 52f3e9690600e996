"""Create the bench's uniquely named topics, and delete them afterwards.

tansu accepts DeleteTopics but keeps every record in memory until it restarts (platform-notes):
`returnrisk dev down && returnrisk dev up` gives the memory back.
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bench.config import BenchConfig
from devstack.topics import ensure_topics
from streams.settings import KafkaSettings

logger = logging.getLogger(__name__)


def bench_topic_names(config: BenchConfig) -> list[str]:
    topics = config.topics()
    return [*topics.inputs, *topics.outputs, config.forward_topic("a"), config.forward_topic("b")]


async def create(kafka: KafkaSettings, config: BenchConfig) -> None:
    await ensure_topics(kafka, bench_topic_names(config), config.partitions)


async def delete(kafka: KafkaSettings, config: BenchConfig) -> bool:
    """Delete the bench's topics; False (logged) if the broker refused."""
    admin = AIOKafkaAdminClient(**kafka.aiokafka_options())
    try:
        await admin.start()
        await admin.delete_topics(bench_topic_names(config))
    except KafkaError as exc:
        logger.warning("could not delete the bench topics: %s", exc)
        return False
    finally:
        await admin.close()
    return True
