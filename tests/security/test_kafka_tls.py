"""Kafka over TLS (RETURNRISK_KAFKA_SECURITY_PROTOCOL=SSL): a listener that speaks nothing else,
reached by `dev up` and `dev status`, the producer, the topic tools and the worker's start check.

The listener is a TLS proxy before a tansu broker that advertises the proxy, so every connection
a client makes, bootstrap and partition leaders alike, is TLS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from devstack.endpoints import Endpoint
from devstack.probes import kafka_probe, kafka_settings_probe
from devstack.topics import count_records, ensure_topics, partition_counts
from producer.send import produce_file
from streams.startup import check_topics
from tests.fixtures.events import EventFactory, write_jsonl
from tests.fixtures.infra import topic_env
from tests.security.tls import Certificates, tls_kafka, unique_topics

pytestmark = pytest.mark.integration


def test_the_probe_speaks_tls_when_the_settings_say_so(
    tls_broker: Endpoint, certificates: Certificates
) -> None:
    assert kafka_probe(tls_broker) is not None  # a TLS listener answers nothing in plain TCP
    assert kafka_settings_probe(tls_kafka(tls_broker, certificates), tls_broker) is None
    untrusted = tls_kafka(tls_broker, certificates, ssl_cafile=certificates.other_ca)
    assert "certificate verify failed" in (kafka_settings_probe(untrusted, tls_broker) or "")


def test_dev_up_and_status_reach_a_tls_broker_and_create_the_topics_there(
    cli_app: typer.Typer,
    settings_env: Callable[[dict[str, str]], None],
    tls_broker: Endpoint,
    certificates: Certificates,
    redis_url: str,
    tmp_path: Path,
) -> None:
    topics = unique_topics()
    settings_env(
        {
            "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": str(tls_broker),
            "RETURNRISK_KAFKA_SECURITY_PROTOCOL": "SSL",
            "RETURNRISK_KAFKA_SSL_CAFILE": str(certificates.ca),
            "RETURNRISK_REDIS_URL": redis_url,
            "RETURNRISK_DEV_STATE_DIR": str(tmp_path / "dev"),
            **topic_env(topics),
        }
    )
    up = CliRunner().invoke(cli_app, ["dev", "up", "--partitions", "2"])
    assert up.exit_code == 0, up.output
    assert up.output.startswith("broker") and "not started by dev up" in up.output.splitlines()[0]

    status = CliRunner().invoke(cli_app, ["dev", "status"])
    assert status.exit_code == 0, status.output
    assert "reachable, external" in status.output.splitlines()[0]

    names = [*topics.inputs, *topics.outputs]
    counts = asyncio.run(partition_counts(tls_kafka(tls_broker, certificates), names))
    assert counts == dict.fromkeys(names, 2)


def test_the_producer_the_counter_and_the_worker_start_check_work_over_tls(
    tls_broker: Endpoint,
    certificates: Certificates,
    event_factory: EventFactory,
    tmp_path: Path,
) -> None:
    kafka = tls_kafka(tls_broker, certificates)
    topics = unique_topics()
    asyncio.run(ensure_topics(kafka, [*topics.inputs, *topics.outputs], 2))
    events = [event_factory.order() for _ in range(30)] + [event_factory.campaign_touch()]
    log = write_jsonl(tmp_path / "events.jsonl", events)

    report = produce_file(log, kafka, topics)

    assert report.sent.total() == len(events) and report.failed == 0
    assert sum(count_records(kafka, topics.inputs).values()) == len(events)
    check_topics(kafka, topics, time.monotonic() + 10)  # returns: every topic is there
