"""A `returnrisk worker` on a Kafka listener that speaks only TLS, keeping its features in a
Redis over TLS with a client certificate and a password, run with every secret set: it scores
and dead-letters as usual, and no secret reaches its log, its /metrics page or its output
records; no label of /metrics has a customer, order or event id for its value.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.endpoints import Endpoint
from devstack.topics import ensure_topics
from features.replay import read_log
from producer.send import produce_file
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.infra import topic_env
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.topics import read_until
from tests.fixtures.worker import WorkerProcess
from tests.security.conftest import Secrets
from tests.security.labels import id_like, ids_in, labels_of
from tests.security.tls import Certificates, SecureRedis, tls_kafka, unique_topics

pytestmark = pytest.mark.integration

EVENTS = 2_500
"""Lines of the session's simulated log produced: a few hundred scores, in well under a minute."""
BAD_LINES = [
    b'{"event_type": "order_placed", "event_id": "broken-1", "customer_id": "cust-broken"',
    b'{"event_type": "order_placed", "event_id": "broken-2", "customer_id": "cust-broken"}',
    b'{"event_type": "refund_issued", "event_id": "broken-3", "customer_id": "cust-broken"}',
]


class InfoWorker(WorkerProcess):
    """The worker at the info level (the fixture's runs at warn): more lines that could leak."""

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter and module
                [sys.executable, "-m", "returnrisk", "worker", "--loglevel", "info"],
                env=self.env,
                cwd=self.log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )


@dataclass(frozen=True)
class SecureWorker:
    process: InfoWorker
    kafka: KafkaSettings
    topics: TopicSettings
    secrets: list[str]
    """Every secret the worker was given."""


@pytest.fixture
def secure_worker(
    worker_env: dict[str, str],
    tls_broker: Endpoint,
    certificates: Certificates,
    secure_redis: SecureRedis,
    secure_redis_prefix: str,
    secret_values: Secrets,
    tmp_path: Path,
) -> SecureWorker:
    """The worker on the TLS broker and the TLS Redis, with a SASL username and password set
    as well (unused: SSL without SASL, so no mechanism is set)."""
    kafka = tls_kafka(tls_broker, certificates, partitions=3)
    topics = unique_topics()
    asyncio.run(ensure_topics(kafka, [*topics.inputs, *topics.outputs], kafka.partitions))
    env = {
        **{k: v for k, v in worker_env.items() if not k.startswith("RETURNRISK_TOPIC_")},
        **topic_env(topics),
        "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": str(tls_broker),
        "RETURNRISK_KAFKA_SECURITY_PROTOCOL": "SSL",
        "RETURNRISK_KAFKA_SSL_CAFILE": str(certificates.ca),
        "RETURNRISK_KAFKA_SASL_USERNAME": "returnrisk",
        "RETURNRISK_KAFKA_SASL_PASSWORD": secret_values.kafka_sasl_password,
        **secure_redis.env(),
        "RETURNRISK_WORKER_REDIS_KEY_PREFIX": secure_redis_prefix,
    }
    process = InfoWorker(env, tmp_path / "worker.log")
    return SecureWorker(
        process, kafka, topics, [secure_redis.password, secret_values.kafka_sasl_password]
    )


def _produce(
    log: Path, kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path
) -> tuple[list[bytes], set[str]]:
    """The first EVENTS lines of `log` and the bad lines; the lines and the events to score."""
    lines = log.read_bytes().splitlines()[:EVENTS]
    part = tmp_path / "part.jsonl"
    part.write_bytes(b"\n".join(lines) + b"\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(BAD_LINES) + b"\n")
    produce_file(bad, kafka, topics, include_invalid=True)
    produce_file(part, kafka, topics)
    events, _ = read_log(part)
    scored = {e.event_id for e in events if e.event_type in ("order_placed", "return_requested")}
    return [*lines, *BAD_LINES], scored


def _outputs(
    worker: WorkerProcess, kafka: KafkaSettings, topics: TopicSettings, scored: set[str]
) -> dict[str, list[bytes]]:
    def done(values: dict[str, list[bytes]]) -> bool:
        worker.check_alive()
        sources = {json.loads(v)["source_event_id"] for v in values[topics.scores]}
        return sources >= scored and len(values[topics.dlq]) >= len(BAD_LINES)

    return read_until(kafka, topics.outputs, done, timeout_s=180)


def _metrics_page(env: dict[str, str]) -> str:
    port = env["RETURNRISK_WORKER_METRICS_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:  # noqa: S310 - loopback
        return str(reply.read().decode())


def test_a_worker_over_tls_keeps_secrets_out_of_logs_metrics_and_records_and_ids_out_of_labels(
    secure_worker: SecureWorker,
    secure_redis: SecureRedis,
    secure_redis_prefix: str,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    worker, kafka, topics = secure_worker.process, secure_worker.kafka, secure_worker.topics
    worker.start()
    try:
        inputs, scored = _produce(trained_registry.log, kafka, topics, tmp_path)
        outputs = _outputs(worker, kafka, topics, scored)
        page = _metrics_page(worker.env)
    finally:
        worker.stop()
    records = [value for values in outputs.values() for value in values]

    # it ran: scores for every order and return request, every bad line dead-lettered, and the
    # customers' state kept in the TLS Redis
    assert len(outputs[topics.dlq]) == len(BAD_LINES)
    client = secure_redis.settings().connect()
    try:
        assert next(client.scan_iter(f"{secure_redis_prefix}:*"), None) is not None
    finally:
        client.close()

    log = worker.log.read_text()
    for secret in secure_worker.secrets:
        assert secret not in log, "a secret in the worker's log"
        assert secret not in page, "a secret on /metrics"
        assert not any(secret.encode() in record for record in records), "a secret in a record"
    assert "Traceback" not in log, log[-3000:]

    labels = labels_of(page)
    assert "segment" in labels and "event_type" in labels  # labelled series were served
    assert id_like(labels) == []
    ids = ids_in(inputs) | ids_in(records)
    assert len(ids) > 1_000
    as_values = {name: values & ids for name, values in labels.items() if values & ids}
    assert as_values == {}, "ids as label values"
