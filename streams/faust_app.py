"""The faust App as returnrisk configures it, shared by the worker and the benchmark."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
import mode.loop
from faust.transport.drivers import aiokafka as faust_aiokafka

from returnrisk.settings import KafkaSettings, kafka_settings, worker_settings

_FAUST_CREATE_CONSUMER = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer

FAUST_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "crit": logging.CRITICAL,
}


def faust_credentials(kafka: KafkaSettings) -> Any:
    """SASL/TLS settings in faust's terms, or None for PLAINTEXT."""
    options = kafka.aiokafka_options()
    if kafka.sasl_mechanism:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=options["sasl_plain_password"],
            mechanism=kafka.sasl_mechanism,
            ssl_context=options.get("ssl_context"),
        )
    if "ssl_context" in options:
        return faust.SSLCredentials(options["ssl_context"])
    return None


def set_fetch_max_wait(milliseconds: int) -> None:
    """How long a fetch may wait for data. faust hard-codes 1,500 ms for its consumer
    (`AIOKafkaConsumerThread._create_worker_consumer`). Apache Kafka answers a fetch as soon
    as any data is there, so the wait only matters when idle; tansu holds every fetch for the
    full wait, which alone put p50 latency near 400 ms. aiokafka reads the value when the
    consumer starts, so it is set on the consumer faust builds, before it starts."""

    def create(self: Any, transport: Any) -> Any:
        consumer = _FAUST_CREATE_CONSUMER(self, transport)
        consumer._fetch_max_wait_ms = milliseconds
        return consumer

    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]


def use_event_loop(name: str) -> None:
    """faust creates its loop when the worker starts; with uvloop the loop's own work (tasks,
    callbacks, the selector) runs in C. faust's consumer schedules several tasks per record
    (`Consumer._drain_messages` waits for each record's delivery with `Service.wait_first`),
    so this is the largest part of its per-event cost that can be cut without changing faust."""
    if name == "uvloop":
        mode.loop.use("uvloop")


def create_app(app_id: str) -> faust.App:
    """Raw bytes in and out (the pipeline decodes with schemas/), acks from all replicas."""
    settings = worker_settings()
    use_event_loop(settings.event_loop)
    set_fetch_max_wait(settings.fetch_max_wait_ms)
    kafka = kafka_settings()
    return faust.App(
        app_id,
        broker=[f"kafka://{server}" for server in kafka.bootstrap_list],
        broker_credentials=faust_credentials(kafka),
        broker_client_id=kafka.client_id,
        key_serializer="raw",
        value_serializer="raw",
        topic_allow_declare=False,  # topics are created by ops (or `returnrisk dev up`)
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        web_enabled=False,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
    )


def keep_root_logger_at(app: faust.App, level: int) -> None:
    """faust's progress spinner sets the root logger to DEBUG at the warn level
    (faust/worker.py, `_setup_spinner_handler`), so every aiokafka debug call builds a log
    record; put it back once the worker has started."""

    async def reset() -> None:
        await asyncio.sleep(1.0)
        logging.getLogger().setLevel(level)

    app.task(reset)
