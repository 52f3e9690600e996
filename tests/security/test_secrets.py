"""Secrets never leave the settings: not in `returnrisk config`, nor in the one-line errors of
the worker, `dev` and `produce` when the broker or Redis cannot be reached or refuses them.

Each secret is a long random string (`Secrets`), so finding one anywhere means it leaked. The
running worker's log, /metrics and output records are checked in test_secure_worker.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from devstack.endpoints import Endpoint
from returnrisk.settings import describe_settings
from streams.settings import kafka_settings, redis_settings
from tests.fixtures.events import EventFactory, write_jsonl
from tests.fixtures.infra import free_port
from tests.security.conftest import Secrets

pytestmark = pytest.mark.integration

START_LIMIT_S = 30
HIDDEN = "*" * 10
"""How pydantic shows a SecretStr."""

REDIS_URLS = {
    "user and password": "rediss://returnrisk:{secret}@redis.internal:6380/0",
    "password only": "redis://:{secret}@127.0.0.1:6379/0",
    "password as a parameter": "redis://127.0.0.1:6379/0?password={secret}",
    "unix socket": "unix:///run/redis/redis.sock?db=0&password={secret}",
}


def sasl_env(secrets: Secrets, protocol: str = "SASL_PLAINTEXT") -> dict[str, str]:
    return {
        "RETURNRISK_KAFKA_SECURITY_PROTOCOL": protocol,
        "RETURNRISK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "RETURNRISK_KAFKA_SASL_USERNAME": "returnrisk",
        "RETURNRISK_KAFKA_SASL_PASSWORD": secrets.kafka_sasl_password,
    }


def secrets_env(secrets: Secrets, redis_url: str) -> dict[str, str]:
    """Every secret set: in the Redis URL, as the Redis password and as the SASL password."""
    return {
        **sasl_env(secrets),
        "RETURNRISK_REDIS_URL": redis_url.format(secret=secrets.redis_url_password),
        "RETURNRISK_REDIS_PASSWORD": secrets.redis_password,
    }


def _unreachable_redis_url() -> str:
    return f"redis://:{{secret}}@127.0.0.1:{free_port()}/0"


@pytest.mark.parametrize("url", sorted(REDIS_URLS))
def test_config_hides_every_secret(
    cli_app: typer.Typer,
    settings_env: Callable[[dict[str, str]], None],
    secret_values: Secrets,
    url: str,
) -> None:
    settings_env(
        {**secrets_env(secret_values, REDIS_URLS[url]), "RETURNRISK_KAFKA_SSL_CAFILE": "/ca.pem"}
        | {"RETURNRISK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}
    )
    result = CliRunner().invoke(cli_app, ["config"])

    assert result.exit_code == 0, result.output
    assert secret_values.found_in(result.output) == []
    shown = json.loads(result.output)
    assert shown["kafka"]["sasl_password"] == shown["redis"]["password"] == HIDDEN
    assert "***" in shown["redis"]["url"]
    assert shown["kafka"]["sasl_username"] == "returnrisk"  # not a secret, and still shown


def test_the_settings_objects_never_show_a_secret(
    settings_env: Callable[[dict[str, str]], None], secret_values: Secrets
) -> None:
    """They may end up in a log line or a traceback's locals."""
    settings_env(secrets_env(secret_values, REDIS_URLS["user and password"]))
    for settings in (kafka_settings(), redis_settings()):
        assert secret_values.found_in(f"{settings!r} {settings!s}") == []
    assert secret_values.found_in(json.dumps(describe_settings())) == []


BAD_SETTINGS = {
    "a Redis URL of another scheme": {"RETURNRISK_REDIS_URL": "http://:{redis_url}@cache:80/0"},
    "a Redis URL with a password parameter and a TLS file": {
        "RETURNRISK_REDIS_URL": "redis://cache:6379/0?password={redis_url}",
        "RETURNRISK_REDIS_SSL_CA_CERTS": "/ca.pem",
    },
    "SASL without a username": {
        "RETURNRISK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "RETURNRISK_KAFKA_SASL_MECHANISM": "PLAIN",
        "RETURNRISK_KAFKA_SASL_PASSWORD": "{sasl}",
    },
    "a SASL mechanism without SASL": {
        "RETURNRISK_KAFKA_SASL_MECHANISM": "PLAIN",
        "RETURNRISK_KAFKA_SASL_USERNAME": "returnrisk",
        "RETURNRISK_KAFKA_SASL_PASSWORD": "{sasl}",
    },
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_a_refused_setting_is_one_line_without_the_secret(
    cli_app: typer.Typer,
    settings_env: Callable[[dict[str, str]], None],
    secret_values: Secrets,
    case: str,
) -> None:
    values = {
        name: value.format(
            redis_url=secret_values.redis_url_password, sasl=secret_values.kafka_sasl_password
        )
        for name, value in BAD_SETTINGS[case].items()
    }
    settings_env(values)
    result = CliRunner().invoke(cli_app, ["config"])

    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: RETURNRISK_"), line
    assert secret_values.found_in(line) == []


def _start_fails(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our interpreter and module
        [sys.executable, "-m", "returnrisk", "worker", "--loglevel", "debug"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_LIMIT_S + 30,
    )
    assert time.monotonic() - started < START_LIMIT_S
    return done.returncode, done.stdout + done.stderr


def test_a_worker_that_cannot_reach_redis_says_so_without_a_secret(
    worker_env: dict[str, str], secret_values: Secrets, tmp_path: Path
) -> None:
    env = {
        **worker_env,
        **secrets_env(secret_values, _unreachable_redis_url()),
        "RETURNRISK_WORKER_START_TIMEOUT_S": "3",
    }
    code, output = _start_fails(env, tmp_path)

    assert code != 0
    [line] = output.strip().splitlines()
    assert line.startswith("error: Redis at redis://:***@127.0.0.1:") and "REDIS_URL" in line
    assert secret_values.found_in(output) == []


def test_a_worker_whose_broker_refuses_sasl_says_so_without_the_password(
    worker_env: dict[str, str], secret_values: Secrets, tmp_path: Path
) -> None:
    """The session broker has no SASL: a worker that used its SASL settings cannot start."""
    env = {**worker_env, **sasl_env(secret_values), "RETURNRISK_WORKER_START_TIMEOUT_S": "3"}
    code, output = _start_fails(env, tmp_path)

    assert code != 0
    [line] = output.strip().splitlines()
    assert "the Kafka broker at" in line and "does not answer" in line, line
    assert secret_values.found_in(output) == []


@pytest.fixture
def dev(
    cli_app: typer.Typer,
    settings_env: Callable[[dict[str, str]], None],
    broker_endpoint: Endpoint,
    tmp_path: Path,
) -> Callable[..., Result]:
    """`dev(env, *args)`: `returnrisk dev ...` on the session broker with `env` set."""

    def run(env: dict[str, str], *args: str) -> Result:
        settings_env(
            {
                "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": str(broker_endpoint),
                "RETURNRISK_DEV_STATE_DIR": str(tmp_path / "dev"),
                **env,
            }
        )
        return CliRunner().invoke(cli_app, ["dev", *args])

    return run


def test_dev_status_shows_neither_password_and_fails_to_count_without_sasl(
    dev: Callable[..., Result], secret_values: Secrets
) -> None:
    result = dev(secrets_env(secret_values, _unreachable_redis_url()), "status", "--counts")

    assert result.exit_code == 1
    broker, redis_line = result.output.splitlines()[:2]
    assert broker.startswith("broker") and "reachable" in broker  # ApiVersions needs no login
    assert redis_line.startswith("redis") and "redis://:***@" in redis_line
    assert "NOT reachable" in redis_line
    assert result.output.splitlines()[-1].startswith("error: ")  # counting needs SASL
    assert secret_values.found_in(result.output) == []


@pytest.mark.parametrize("where", ["in the URL", "RETURNRISK_REDIS_PASSWORD"])
def test_dev_up_refuses_to_start_a_redis_for_a_password_without_showing_it(
    dev: Callable[..., Result], secret_values: Secrets, where: str
) -> None:
    url = _unreachable_redis_url()
    env = {
        **sasl_env(secret_values),
        "RETURNRISK_REDIS_URL": url.format(secret=secret_values.redis_url_password),
    }
    if where == "RETURNRISK_REDIS_PASSWORD":
        env["RETURNRISK_REDIS_URL"] = url.replace(":{secret}@", "")
        env["RETURNRISK_REDIS_PASSWORD"] = secret_values.redis_password
    result = dev(env, "up")

    assert result.exit_code == 1
    assert "dev up starts Redis without a password" in result.output
    assert secret_values.found_in(result.output) == []


def test_dev_up_cannot_create_topics_on_a_broker_without_sasl_and_hides_the_password(
    dev: Callable[..., Result], secret_values: Secrets, redis_url: str
) -> None:
    result = dev({**sasl_env(secret_values), "RETURNRISK_REDIS_URL": redis_url}, "up")

    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: cannot create topics on")
    assert secret_values.found_in(result.output) == []


def test_produce_cannot_reach_a_broker_without_sasl_and_hides_the_password(
    cli_app: typer.Typer,
    settings_env: Callable[[dict[str, str]], None],
    broker_endpoint: Endpoint,
    secret_values: Secrets,
    event_factory: EventFactory,
    tmp_path: Path,
) -> None:
    log = write_jsonl(tmp_path / "events.jsonl", [event_factory.order() for _ in range(3)])
    settings_env(
        {
            **secrets_env(secret_values, REDIS_URLS["password only"]),
            "RETURNRISK_KAFKA_BOOTSTRAP_SERVERS": str(broker_endpoint),
            "RETURNRISK_KAFKA_REQUEST_TIMEOUT_S": "3",
        }
    )
    result = CliRunner().invoke(cli_app, ["produce", "--events", str(log)])

    assert result.exit_code == 1
    assert "error: cannot reach Kafka at" in result.output
    assert secret_values.found_in(result.output) == []
