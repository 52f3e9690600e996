"""The three dev verbs as library functions: `up`, `down` and `status`, returning reports.

`up` reuses whatever already answers (and records nothing for it), so `down` can only ever stop
servers `up` itself started: a system Redis or someone else's broker is never touched.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aiokafka.errors import KafkaError

from devstack import processes, state
from devstack.binaries import redis_server_binary, tansu_binary
from devstack.endpoints import Endpoint, kafka_endpoint, kafka_endpoints, redis_endpoint
from devstack.errors import DevError
from devstack.launch import launch, redis_argv, tansu_argv
from devstack.probes import kafka_probe, kafka_settings_probe, port_open, redis_settings_probe
from devstack.settings import DevSettings
from devstack.state import ServiceRecord
from devstack.topics import TopicError, ensure_topics
from streams.settings import KafkaSettings, RedisSettings, TopicSettings

BROKER = "broker"
REDIS = "redis"
RSS_WARNING_BYTES = 2 * 1024**3
RESET_HINT = (
    "tansu keeps every record in memory and never frees consumed ones: "
    "`returnrisk dev down && returnrisk dev up` resets it"
)
_STOP_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True, slots=True)
class Service:
    """One server after `up`: started now, started by an earlier `up`, or someone else's."""

    name: str
    address: str
    action: Literal["started", "running", "external"]
    pid: int | None = None
    log_file: str | None = None


@dataclass(frozen=True, slots=True)
class UpReport:
    services: list[Service]
    partitions: int
    topic_partitions: dict[str, int]

    @property
    def mismatched_topics(self) -> dict[str, int]:
        """Topics that already existed with another partition count than requested."""
        return {t: n for t, n in self.topic_partitions.items() if n != self.partitions}


@dataclass(frozen=True, slots=True)
class Stopped:
    name: str
    address: str
    pid: int
    was_running: bool


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    address: str
    problem: str | None
    ours: bool
    pid: int | None = None
    rss_bytes: int | None = None
    log_file: str | None = None

    @property
    def reachable(self) -> bool:
        return self.problem is None

    @property
    def memory_warning(self) -> bool:
        return self.name == BROKER and (self.rss_bytes or 0) >= RSS_WARNING_BYTES


def up(
    kafka: KafkaSettings,
    topics: TopicSettings,
    redis: RedisSettings,
    dev: DevSettings,
    partitions: int,
) -> UpReport:
    """Start (or reuse) the broker and Redis, then create every topic idempotently."""
    state_dir = dev.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    records = state.load(state_dir)
    services = [
        _ensure_broker(kafka, dev, state_dir, records),
        _ensure_redis(redis, dev, state_dir, records),
    ]
    names = [*topics.inputs, *topics.outputs]
    try:
        topic_partitions = asyncio.run(ensure_topics(kafka, names, partitions))
    except (KafkaError, TopicError) as exc:
        raise DevError(f"cannot create topics on {kafka.bootstrap_servers}: {exc}") from None
    return UpReport(services, partitions, topic_partitions)


def _ensure_broker(
    kafka: KafkaSettings, dev: DevSettings, state_dir: Path, records: dict[str, ServiceRecord]
) -> Service:
    for answering in kafka_endpoints(kafka):
        if kafka_settings_probe(kafka, answering) is None:
            return _already_answering(BROKER, str(answering), answering, state_dir, records)
    endpoint = kafka_endpoint(kafka)
    problem = kafka_settings_probe(kafka, endpoint)
    if port_open(endpoint):
        raise DevError(f"{endpoint} is in use by something that is not a Kafka broker ({problem})")
    if kafka.security_protocol != "PLAINTEXT":
        raise DevError(
            f"nothing answers on {endpoint} and dev up can only start a PLAINTEXT broker "
            f"(RETURNRISK_KAFKA_SECURITY_PROTOCOL is {kafka.security_protocol})"
        )
    _refuse_second_copy(BROKER, records)
    record = launch(
        BROKER,
        tansu_argv(tansu_binary(), endpoint),
        endpoint,
        state_dir / "tansu.log",
        ready=lambda: kafka_probe(endpoint) is None,
        timeout_s=dev.startup_timeout_s,
    )
    _remember(state_dir, records, record)
    return Service(BROKER, str(endpoint), "started", record.pid, record.log_file)


def _ensure_redis(
    redis: RedisSettings, dev: DevSettings, state_dir: Path, records: dict[str, ServiceRecord]
) -> Service:
    url = redis.url.get_secret_value()
    problem = redis_settings_probe(redis)
    if problem is None:
        return _already_answering(
            REDIS, redis.url_redacted, _endpoint_of(redis), state_dir, records
        )
    endpoint = redis_endpoint(redis)
    if port_open(endpoint):
        raise DevError(f"{endpoint} is in use but does not answer Redis PING ({problem})")
    if redis.url_redacted != url or redis.password:  # in the URL, or RETURNRISK_REDIS_PASSWORD
        raise DevError(
            f"nothing answers on {redis.url_redacted} and dev up starts Redis without a password: "
            "drop the password from RETURNRISK_REDIS_URL and RETURNRISK_REDIS_PASSWORD for local "
            "use, or start your own Redis"
        )
    _refuse_second_copy(REDIS, records)
    record = launch(
        REDIS,
        redis_argv(redis_server_binary(), endpoint, state_dir),
        endpoint,
        state_dir / "redis.log",
        ready=lambda: redis_settings_probe(redis, timeout_s=0.5) is None,
        timeout_s=dev.startup_timeout_s,
    )
    _remember(state_dir, records, record)
    return Service(REDIS, redis.url_redacted, "started", record.pid, record.log_file)


def _endpoint_of(redis: RedisSettings) -> Endpoint | None:
    try:
        return redis_endpoint(redis)
    except DevError:
        return None


def _already_answering(
    name: str,
    address: str,
    endpoint: Endpoint | None,
    state_dir: Path,
    records: dict[str, ServiceRecord],
) -> Service:
    record = records.get(name)
    if record is not None and processes.find(record.pid, record.created_at) is None:
        del records[name]  # it died; whatever answers now is not ours
        state.save(state_dir, records)
    elif record is not None and record.endpoint == endpoint:
        return Service(name, address, "running", record.pid, record.log_file)
    return Service(name, address, "external")


def _refuse_second_copy(name: str, records: dict[str, ServiceRecord]) -> None:
    record = records.get(name)
    if record is not None and processes.find(record.pid, record.created_at) is not None:
        raise DevError(
            f"the {name} started by dev up still runs on {record.endpoint} (pid {record.pid}): "
            "run `returnrisk dev down` first"
        )


def _remember(state_dir: Path, records: dict[str, ServiceRecord], record: ServiceRecord) -> None:
    records[record.name] = record
    state.save(state_dir, records)


def down(dev: DevSettings) -> list[Stopped]:
    """Stop what `up` recorded, wait until its ports are closed, remove the state and logs."""
    state_dir = dev.state_dir.resolve()
    records = state.load(state_dir)
    stopped = [
        Stopped(
            r.name, str(r.endpoint), r.pid, processes.stop(r.pid, r.created_at, _STOP_TIMEOUT_S)
        )
        for r in records.values()
    ]
    still_open = _wait_closed([r.endpoint for r in records.values()], dev.startup_timeout_s)
    state.clear(state_dir, records)
    if still_open:
        raise DevError(
            "stopped what dev up started, but another process still accepts connections on "
            + ", ".join(str(e) for e in still_open)
        )
    return stopped


def _wait_closed(endpoints: list[Endpoint], timeout_s: float) -> list[Endpoint]:
    deadline = time.monotonic() + timeout_s
    while True:
        still_open = [e for e in endpoints if port_open(e, timeout_s=0.2)]
        if not still_open or time.monotonic() >= deadline:
            return still_open
        time.sleep(_POLL_INTERVAL_S)


def status(kafka: KafkaSettings, redis: RedisSettings, dev: DevSettings) -> list[ServiceStatus]:
    """Whether each server answers, and for those `up` started: pid and resident memory."""
    records = state.load(dev.state_dir.resolve())
    problems = {e: kafka_settings_probe(kafka, e) for e in kafka_endpoints(kafka)}
    broker = next((e for e, problem in problems.items() if problem is None), next(iter(problems)))
    return [
        _status(BROKER, str(broker), broker, problems[broker], records.get(BROKER)),
        _status(
            REDIS,
            redis.url_redacted,
            _endpoint_of(redis),
            redis_settings_probe(redis),
            records.get(REDIS),
        ),
    ]


def _status(
    name: str,
    address: str,
    endpoint: Endpoint | None,
    problem: str | None,
    record: ServiceRecord | None,
) -> ServiceStatus:
    if record is None or record.endpoint != endpoint:
        return ServiceStatus(name, address, problem, ours=False)
    rss = processes.rss_bytes(record.pid, record.created_at)
    if rss is None:  # recorded but gone
        return ServiceStatus(name, address, problem, ours=False)
    return ServiceStatus(name, address, problem, True, record.pid, rss, record.log_file)
