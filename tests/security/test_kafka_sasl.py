"""Kafka SASL settings reach every Kafka client the project builds.

No SASL broker is available here (tansu authenticates only users kept in a storage engine this
build lacks), so these tests check configuration, at the one place every aiokafka client passes
through: `AIOKafkaClient.__init__`, which aiokafka's producer, consumer and admin client and
faust's driver all call. The spy records the options each client was given, then connects in
PLAINTEXT to the session's tansu broker, so every flow below really runs to its end. A static
check finds every client the source builds, so a new one cannot skip the settings unnoticed;
the CLIs' refusal of a broker without SASL is in test_secrets.py.
"""

from __future__ import annotations

import ast
import asyncio
import json
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient
from faust.transport.drivers import aiokafka as faust_aiokafka

from bench import bare_loop, topic_reader
from bench import topics as bench_topics
from bench.config import BenchConfig
from bench.phases import faust_forward_env, worker_env
from bench.processes import subprocess_env
from devstack.topics import count_records_async, ensure_topics
from producer.send import produce_file_async
from streams.dependencies import DependencyWatch
from streams.settings import KafkaSettings, RedisSettings, TopicSettings
from streams.startup import check_topics
from tests.fixtures.events import EventFactory, write_jsonl
from tests.security.tls import Certificates

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
USERNAME = "returnrisk-sasl-user"
PASSWORD = f"sasl-password-{secrets.token_hex(8)}"
REDIS_PASSWORD = f"redis-password-{secrets.token_hex(8)}"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def sasl(kafka: KafkaSettings, mechanism: str) -> KafkaSettings:
    """The session broker's settings with SASL_PLAINTEXT and `mechanism`."""
    return KafkaSettings(
        **{
            **kafka.model_dump(),
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": mechanism,
            "sasl_username": USERNAME,
            "sasl_password": PASSWORD,
        }
    )


def sasl_env(mechanism: str, protocol: str = "SASL_PLAINTEXT") -> dict[str, str]:
    return {
        "RETURNRISK_KAFKA_SECURITY_PROTOCOL": protocol,
        "RETURNRISK_KAFKA_SASL_MECHANISM": mechanism,
        "RETURNRISK_KAFKA_SASL_USERNAME": USERNAME,
        "RETURNRISK_KAFKA_SASL_PASSWORD": PASSWORD,
    }


def assert_sasl(
    built: list[dict[str, Any]], mechanism: str, protocol: str = "SASL_PLAINTEXT"
) -> None:
    for options in built:
        given = {k: options.get(k) for k in ("security_protocol", "sasl_mechanism")}
        assert given == {"security_protocol": protocol, "sasl_mechanism": mechanism}
        assert options.get("sasl_plain_username") == USERNAME
        assert options.get("sasl_plain_password") == PASSWORD
        if protocol == "SASL_SSL":
            assert isinstance(options.get("ssl_context"), ssl.SSLContext)


@contextmanager
def client_spy() -> Iterator[list[dict[str, Any]]]:
    """Every `AIOKafkaClient` built inside: its options as given, recorded; its connection made
    in PLAINTEXT (tansu has no SASL)."""
    built: list[dict[str, Any]] = []
    original = AIOKafkaClient.__init__

    def record(client: AIOKafkaClient, **options: Any) -> None:
        built.append(dict(options))
        original(client, **{**options, "security_protocol": "PLAINTEXT"})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AIOKafkaClient, "__init__", record)
        yield built


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_shared_options_carry_sasl(kafka_settings: KafkaSettings, mechanism: str) -> None:
    options = sasl(kafka_settings, mechanism).aiokafka_options()
    assert_sasl([options], mechanism)
    assert "sasl_mechanism" not in kafka_settings.aiokafka_options()


def test_every_kafka_client_the_source_builds_takes_the_shared_options() -> None:
    sites = kafka_client_sites()
    assert len(sites) >= 12, sites  # the scan found the clients (and cannot pass empty)
    bare = [site for site, passes in sites.items() if not passes]
    assert bare == [], f"built without **<KafkaSettings>.aiokafka_options(): {bare}"


def _soon() -> float:
    return time.monotonic() + 10


def _flows(
    kafka: KafkaSettings, topics: TopicSettings, log: Path, records: int
) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    """Each flow of the project that builds Kafka clients, in an order that lets each run to
    its end: topics exist, records are produced, then read, forwarded and deleted."""
    config = BenchConfig(events=records, partitions=3)
    target = f"sasl-forward-{config.run}"
    group = f"sasl-group-{config.run}"
    return [
        ("dev: ensure_topics", lambda: ensure_topics(kafka, [target], 3)),
        ("producer: produce_file", lambda: produce_file_async(log, kafka, topics)),
        ("dev: count_records", lambda: count_records_async(kafka, topics.inputs)),
        (
            "bench: bare loop",
            lambda: bare_loop.forward(kafka, topics.inputs, target, group, records, 100, 60),
        ),
        ("bench: read_topic", lambda: topic_reader.read_topic(kafka, target, expected=records)),
        ("bench: delete topics", lambda: bench_topics.delete(kafka, config)),
        ("worker: start check", lambda: asyncio.to_thread(check_topics, kafka, topics, _soon())),
        ("worker: dependency probe", lambda: _probe(kafka)),
    ]


async def _probe(kafka: KafkaSettings) -> None:
    assert await DependencyWatch(RedisSettings(), kafka)._probe_kafka() is None


async def _run_counted(
    flows: list[tuple[str, Callable[[], Awaitable[Any]]]], built: list[dict[str, Any]]
) -> dict[str, int]:
    """How many clients each flow built."""
    counts = {}
    for name, flow in flows:
        before = len(built)
        await flow()
        counts[name] = len(built) - before
    return counts


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_every_flow_gives_each_of_its_clients_the_sasl_settings(
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    event_factory: EventFactory,
    tmp_path: Path,
    mechanism: str,
) -> None:
    events = [event_factory.order() for _ in range(20)]
    log = write_jsonl(tmp_path / "events.jsonl", events)
    flows = _flows(sasl(kafka_settings, mechanism), fresh_topics, log, len(events))
    with client_spy() as built:
        counts = asyncio.run(_run_counted(flows, built))
    assert counts == {
        "dev: ensure_topics": 1,
        "producer: produce_file": 2,  # the topic check's admin client, then the producer
        "dev: count_records": 2,
        "bench: bare loop": 2,
        "bench: read_topic": 1,
        "bench: delete topics": 1,
        "worker: start check": 1,
        "worker: dependency probe": 1,
    }
    assert_sasl(built, mechanism)


@pytest.fixture
def faust_app(
    settings_env: Callable[[dict[str, str]], None],
    kafka_settings: KafkaSettings,
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Callable[[str, str], Any]:
    """`faust_app(mechanism, protocol)`: the worker's faust App (`create_app`) built from
    RETURNRISK_* with SASL (and TLS for SASL_SSL); faust's classes `create_app` changes are put
    back after the test."""
    for cls, name in (
        (faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer"),
        (faust_aiokafka.Consumer, "wait_first"),
        (faust_aiokafka.Consumer, "_wait_next_records"),
        (faust_aiokafka.Consumer, "on_buffer_drop"),
    ):
        monkeypatch.setattr(cls, name, getattr(cls, name))

    def build(mechanism: str, protocol: str) -> Any:
        from streams.faust_app import create_app

        tls = (
            {"RETURNRISK_KAFKA_SSL_CAFILE": str(certificates.ca)} if protocol == "SASL_SSL" else {}
        )
        settings_env(
            {
                **sasl_env(mechanism, protocol),
                **tls,
                "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
                "RETURNRISK_WORKER_EVENT_LOOP": "asyncio",  # no loop policy for the session
                "RETURNRISK_WORKER_DATA_DIR": str(tmp_path / "faust"),
            }
        )
        return create_app(f"sasl-test-{mechanism.lower()}")

    return build


@pytest.mark.parametrize(
    ("mechanism", "protocol"),
    [*((m, "SASL_PLAINTEXT") for m in MECHANISMS), ("SCRAM-SHA-512", "SASL_SSL")],
)
def test_the_worker_faust_app_gives_its_consumer_and_producer_the_sasl_settings(
    faust_app: Callable[[str, str], Any], mechanism: str, protocol: str
) -> None:
    app = faust_app(mechanism, protocol)
    credentials = app.conf.broker_credentials
    assert (credentials.username, credentials.password) == (USERNAME, PASSWORD)
    assert credentials.mechanism.value == mechanism

    async def build_clients() -> None:
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        producer = app.producer._new_producer()
        await consumer.stop()
        await producer.stop()

    with client_spy() as built:
        asyncio.run(build_clients())
    assert len(built) == 2
    assert_sasl(built, mechanism, protocol)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_bench_children_get_every_kafka_and_redis_setting(
    kafka_settings: KafkaSettings, tmp_path: Path, mechanism: str
) -> None:
    """(b) and (c) run as child processes; they rebuild the bench's settings from their
    environment, SASL and Redis TLS included."""
    kafka = sasl(kafka_settings, mechanism)
    redis_conf = RedisSettings(
        url="rediss://127.0.0.1:6380/0", password=REDIS_PASSWORD, ssl_ca_certs=tmp_path / "ca"
    )
    config = BenchConfig(partitions=3)
    envs = {
        "faust forward": faust_forward_env(config, kafka, config.topics()),
        "worker": worker_env(config, kafka, config.topics(), redis_conf, tmp_path, 9999),
    }
    for name, env in envs.items():
        child = _settings_in_child(env)
        assert child["kafka"] == kafka.model_dump(mode="json") | {"sasl_password": PASSWORD}, name
        if name == "worker":
            assert child["redis"]["password"] == REDIS_PASSWORD
            assert child["redis"]["ssl_ca_certs"] == str(tmp_path / "ca")


def test_a_child_does_not_inherit_kafka_or_redis_settings_the_bench_did_not_pass(
    kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETURNRISK_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("RETURNRISK_REDIS_PASSWORD", "stray")
    env = subprocess_env(faust_forward_env(BenchConfig(), kafka_settings, TopicSettings()))
    assert "RETURNRISK_KAFKA_SASL_MECHANISM" not in env
    assert "RETURNRISK_REDIS_PASSWORD" not in env
    assert env["RETURNRISK_KAFKA_BOOTSTRAP_SERVERS"] == kafka_settings.bootstrap_servers


_PRINT_SETTINGS = """
import json
from streams.settings import KafkaSettings, RedisSettings
kafka = KafkaSettings().model_dump(mode="json")
kafka["sasl_password"] = KafkaSettings().sasl_password.get_secret_value()
redis = RedisSettings()
shown = redis.model_dump(mode="json")
shown["password"] = redis.password.get_secret_value() if redis.password else None
print(json.dumps({"kafka": kafka, "redis": shown}))
"""


def _settings_in_child(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", _PRINT_SETTINGS],
        env=subprocess_env(env),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


CLIENT_CLASSES = {
    "AIOKafkaProducer",
    "AIOKafkaConsumer",
    "AIOKafkaAdminClient",
    "AIOKafkaClient",
    "KafkaProducer",
    "KafkaConsumer",
    "KafkaAdminClient",
}


def kafka_client_sites() -> dict[str, bool]:
    """Every place the project's source (not its tests) builds a Kafka client or a faust App:
    `path:line` -> whether it passes the shared settings (`**<x>.aiokafka_options()`, or for
    faust `broker_credentials=`)."""
    sites = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node.func)
            if name in CLIENT_CLASSES:
                passes = any(_is_shared_options(k) for k in node.keywords)
            elif name == "faust.App":
                passes = any(k.arg == "broker_credentials" for k in node.keywords)
            else:
                continue
            sites[f"{path.relative_to(PROJECT)}:{node.lineno}"] = passes
    return sites


def _sources() -> list[Path]:
    listed = subprocess.run(  # noqa: S603, S607 - git, fixed arguments
        ["git", "ls-files", "*.py"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [PROJECT / p for p in listed if not p.startswith("tests/") and (PROJECT / p).exists()]


def _called(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        prefix = _called(func.value)
        return f"{prefix}.{func.attr}" if prefix == "faust" else func.attr
    return ""


def _is_shared_options(keyword: ast.keyword) -> bool:
    value = keyword.value
    return (
        keyword.arg is None
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "aiokafka_options"
    )
