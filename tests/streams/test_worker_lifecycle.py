"""A worker that cannot run says why and exits; a worker told to stop stops, in every weather.

Real processes over TCP: `returnrisk worker`, tansu (behind a proxy that can drop every
connection) and a redis-server that can be stopped, frozen and started again.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import psutil
import pytest
import redis

from devstack.topics import ensure_topics
from features.codec import encode_state
from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.replay import read_log
from features.state import CustomerState, apply_event
from producer.send import produce_file
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.infra import free_port
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.outages import DroppingProxy, StoppableRedis, proxied_broker, stoppable_redis
from tests.fixtures.topics import read_until
from tests.fixtures.worker import WorkerProcess

pytestmark = pytest.mark.integration
__all__ = ["proxied_broker", "stoppable_redis"]  # fixtures used below

START_LIMIT_S = 30
STOP_LIMIT_S = 15


def _start_fails(env: dict[str, str], cwd: Path) -> tuple[int, list[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "returnrisk", "worker", "--loglevel", "warn"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_LIMIT_S + 30,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, lines, time.monotonic() - started


def _registry_without_pointer(tmp: Path) -> str:
    empty = tmp / "registry"
    (empty / "versions").mkdir(parents=True)
    return str(empty)


BAD_STARTS: dict[str, tuple[Callable[[dict[str, str], Path, TrainedRegistry], None], str]] = {
    "malformed policy": (
        lambda env, tmp, _: env.update(
            RETURNRISK_WORKER_POLICY_FILE=str(_write(tmp / "policy.yaml", "offers: [1, 2"))
        ),
        "RETURNRISK_WORKER_POLICY_FILE",
    ),
    "policy of the wrong shape": (
        lambda env, tmp, _: env.update(
            RETURNRISK_WORKER_POLICY_FILE=str(_write(tmp / "policy.yaml", "resolutions: 7\n"))
        ),
        "RETURNRISK_WORKER_POLICY_FILE",
    ),
    "economics with a negative offer cost": (
        lambda env, tmp, _: env.update(
            RETURNRISK_WORKER_POLICY_FILE=str(
                _packaged_policy(tmp, 'size_guidance: {cost: "0.20"', 'size_guidance: {cost: "-1"')
            )
        ),
        "RETURNRISK_WORKER_POLICY_FILE",
    ),
    "economics for a category the model never saw": (
        lambda env, tmp, _: env.update(
            RETURNRISK_WORKER_POLICY_FILE=str(
                _packaged_policy(tmp, "  categories:\n", "  categories:\n    shoez: {}\n")
            )
        ),
        "RETURNRISK_WORKER_POLICY_FILE",
    ),
    "data folder not writable": (
        lambda env, tmp, _: env.update(
            RETURNRISK_WORKER_DATA_DIR=str(_write(tmp / "a-file", "") / "data")
        ),
        "RETURNRISK_WORKER_DATA_DIR",
    ),
    "missing policy": (
        lambda env, tmp, _: env.update(RETURNRISK_WORKER_POLICY_FILE=str(tmp / "nowhere.yaml")),
        "RETURNRISK_WORKER_POLICY_FILE",
    ),
    "no registry": (
        lambda env, tmp, _: env.update(RETURNRISK_REGISTRY_DIR=str(tmp / "no-registry")),
        "RETURNRISK_REGISTRY_DIR",
    ),
    "no promoted model": (
        lambda env, tmp, _: env.update(RETURNRISK_REGISTRY_DIR=_registry_without_pointer(tmp)),
        "RETURNRISK_REGISTRY_DIR",
    ),
    "corrupt pointer": (
        lambda env, tmp, trained: env.update(
            RETURNRISK_REGISTRY_DIR=_corrupt_pointer(trained, tmp)
        ),
        "RETURNRISK_REGISTRY_DIR",
    ),
    "missing input topics": (
        lambda env, tmp, _: env.update(RETURNRISK_TOPIC_ORDERS="orders-that-nobody-created"),
        "RETURNRISK_TOPIC_",
    ),
    "redis unreachable": (
        lambda env, tmp, _: env.update(
            RETURNRISK_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            RETURNRISK_WORKER_START_TIMEOUT_S="3",
        ),
        "RETURNRISK_REDIS_URL",
    ),
    "redis cluster unreachable": (
        lambda env, tmp, _: env.update(
            RETURNRISK_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            RETURNRISK_REDIS_CLUSTER="true",
            RETURNRISK_WORKER_START_TIMEOUT_S="3",
        ),
        "RETURNRISK_REDIS_URL",
    ),
    "broker unreachable": (
        lambda env, tmp, _: env.update(
            RETURNRISK_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",
            RETURNRISK_WORKER_START_TIMEOUT_S="3",
        ),
        "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS",
    ),
}


NAMED = {
    "economics with a negative offer cost": "economics.offers.size_guidance: cost -1 is negative",
    "economics for a category the model never saw": "economics.categories.shoez: unknown category",
}
"""What the error line must name besides the setting."""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _packaged_policy(tmp: Path, old: str, new: str) -> Path:
    """The packaged policy with one change."""
    text = resources.files("policy").joinpath("policy.yaml").read_text()
    assert old in text
    return _write(tmp / "policy.yaml", text.replace(old, new, 1))


def _corrupt_pointer(trained: TrainedRegistry, tmp: Path) -> str:
    copy = tmp / "registry"
    shutil.copytree(trained.registry.root, copy)
    (copy / "promoted.json").write_text('{"version": ')
    return str(copy)


@pytest.mark.parametrize("case", sorted(BAD_STARTS))
def test_a_worker_that_cannot_start_exits_within_30_s_with_one_line(
    case: str, worker_env: dict[str, str], trained_registry: TrainedRegistry, tmp_path: Path
) -> None:
    break_it, setting = BAD_STARTS[case]
    env = dict(worker_env)
    break_it(env, tmp_path, trained_registry)
    code, lines, took = _start_fails(env, tmp_path)
    assert code != 0
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and setting in lines[0], lines
    assert NAMED.get(case, "") in lines[0], lines
    assert "Traceback" not in lines[0]
    assert took < START_LIMIT_S


def _ready(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as reply:  # noqa: S310
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s} s")
        time.sleep(0.2)


def _stop_within(worker: WorkerProcess, limit_s: float) -> float:
    assert worker.process is not None
    children = psutil.Process(worker.process.pid).children(recursive=True)
    started = time.monotonic()
    worker.process.terminate()
    try:
        worker.process.wait(timeout=limit_s + 20)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"ignored SIGTERM: {worker.log.read_text()[-3000:]}") from None
    took = time.monotonic() - started
    _, left = psutil.wait_procs(children, timeout=10)
    assert left == [], f"processes left behind: {left}"
    return took


OUTAGES = ("redis stopped", "redis frozen", "broker unreachable")


@pytest.mark.parametrize("outage", OUTAGES)
def test_sigterm_stops_the_worker_within_15_s_in_an_outage_and_a_restart_loses_nothing(
    outage: str,
    worker_env: dict[str, str],
    trained_registry: TrainedRegistry,
    stoppable_redis: StoppableRedis,
    proxied_broker: DroppingProxy,
    tmp_path: Path,
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=str(proxied_broker.endpoint), partitions=3, request_timeout_s=10.0
    )
    topics = TopicSettings()
    asyncio.run(ensure_topics(kafka, [*topics.inputs, *topics.outputs], 3))
    env = {
        **{k: v for k, v in worker_env.items() if not k.startswith("RETURNRISK_TOPIC_")},
        "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": str(proxied_broker.endpoint),
        "RETURNRISK_REDIS_URL": stoppable_redis.url,
        "RETURNRISK_WORKER_STOP_TIMEOUT_S": "6",
        "RETURNRISK_REDIS_SOCKET_TIMEOUT_S": "2",
    }
    port = env["RETURNRISK_WORKER_METRICS_PORT"]
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    try:
        _wait(lambda: _ready(port), 40, "the worker is not ready")
        lines = trained_registry.log.read_bytes().splitlines(keepends=True)
        half = tmp_path / "first.jsonl"
        half.write_bytes(b"".join(lines[: len(lines) // 2]))
        produce_file(half, kafka, topics)
        read_until(kafka, [topics.scores], lambda v: len(v[topics.scores]) >= 50, timeout_s=90)

        begin, end = {
            "redis stopped": (stoppable_redis.stop, stoppable_redis.start),
            "redis frozen": (stoppable_redis.freeze, stoppable_redis.thaw),
            "broker unreachable": (proxied_broker.cut, proxied_broker.mend),
        }[outage]
        begin()
        time.sleep(3)  # the worker meets the outage (retries, reconnects)
        took = _stop_within(worker, STOP_LIMIT_S)
        assert took < STOP_LIMIT_S, f"stopped after {took:.1f} s"
        log = worker.log.read_text()
        assert log.count("Traceback") == 0, log[-3000:]

        end()
        worker.start()
        rest = tmp_path / "rest.jsonl"
        rest.write_bytes(b"".join(lines[len(lines) // 2 :]))
        produce_file(rest, kafka, topics)
        _assert_nothing_lost(worker, kafka, topics, trained_registry.log, env)
        worker.terminate_cleanly()
    finally:
        worker.stop()


def _assert_nothing_lost(
    worker: WorkerProcess,
    kafka: KafkaSettings,
    topics: TopicSettings,
    log: Path,
    env: dict[str, str],
) -> None:
    events, _ = read_log(log)
    expected = {e.event_id for e in events if e.event_type in ("order_placed", "return_requested")}

    def done(values: dict[str, list[bytes]]) -> bool:
        worker.check_alive()
        return {json.loads(v)["source_event_id"] for v in values[topics.scores]} >= expected

    scores = [json.loads(v) for v in read_until(kafka, [topics.scores], done, 180)[topics.scores]]
    assert {s["source_event_id"] for s in scores} == expected
    first: dict[str, dict[str, object]] = {}
    for score in scores:
        content = {k: v for k, v in score.items() if k != "scored_at"}
        seen = first.setdefault(score["score_id"], content)
        differing = {k: (seen[k], content[k]) for k in content if seen.get(k) != content[k]}
        assert differing == {}, f"{score['source_event_id']} scored again differently"

    offline: dict[str, CustomerState] = {}
    for event in events:
        apply_event(offline.setdefault(event.customer_id, CustomerState()), event, FeatureConfig())
    store = RedisFeatureStore(
        redis.Redis.from_url(env["RETURNRISK_REDIS_URL"]),
        prefix=env["RETURNRISK_WORKER_REDIS_KEY_PREFIX"],
    )

    def same_as_offline() -> bool:
        worker.check_alive()
        online = store.load(offline)
        return all(encode_state(online[c].state) == encode_state(s) for c, s in offline.items())

    _wait(same_as_offline, 120, "features in Redis do not equal the offline replay")


def test_ready_answers_503_until_the_pipeline_runs_and_200_while_it_scores(
    worker: WorkerProcess, worker_env: dict[str, str]
) -> None:
    port = worker_env["RETURNRISK_WORKER_METRICS_PORT"]
    worker.start()
    _wait(lambda: _ready(port), 40, "the worker is not ready")
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()  # noqa: S310
    assert "returnrisk_ready 1.0" in page
    assert 'returnrisk_dependency_up{dependency="redis"} 1.0' in page
    worker.terminate_cleanly()
    assert not _ready(port)
