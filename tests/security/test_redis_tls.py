"""Redis with TLS, a client certificate and a password: a real redis-server that accepts nothing
else (`--port 0`), reached through `RedisSettings.connect()` as every client of the project is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import typer
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from devstack.probes import redis_settings_probe
from devstack.settings import DevSettings
from devstack.stack import status
from features.config import FeatureConfig
from features.parity import run_parity
from features.redis_store import RedisFeatureStore
from streams.dependencies import DependencyWatch
from streams.settings import KafkaSettings, RedisSettings, redis_settings
from streams.start_errors import CannotStart
from streams.startup import wait_for_redis
from tests.fixtures.histories import random_history
from tests.fixtures.infra import free_port
from tests.security.tls import SecureRedis

pytestmark = pytest.mark.integration


def test_the_feature_store_keeps_state_over_tls_with_a_password_and_a_client_certificate(
    secure_redis: SecureRedis,
    secure_redis_prefix: str,
    settings_env: Callable[[dict[str, str]], None],
) -> None:
    settings_env(secure_redis.env())
    client = redis_settings().connect()  # from RETURNRISK_REDIS_*, as the worker builds it
    try:
        assert client.config_get("port") == {"port": "0"}  # TLS is the only way in
        store = RedisFeatureStore(client, prefix=secure_redis_prefix, ttl_seconds=600)
        events = random_history(customers=15, days=60, seed=3)
        report = run_parity(
            events, store, FeatureConfig(), max_lateness_s=3600, duplicate_share=0.05, batch_size=40
        )
        assert report.orders_compared > 0
        assert report.mismatches == []
        assert store.round_trips > 0
    finally:
        client.close()


def test_a_password_in_the_url_works_as_well(secure_redis: SecureRedis) -> None:
    url = f"rediss://:{secure_redis.password}@{secure_redis.endpoint}/0"
    client = secure_redis.settings(url=SecretStr(url), password=None).connect()
    try:
        assert client.ping()
    finally:
        client.close()


REFUSED: dict[str, Callable[[SecureRedis], dict[str, Any]]] = {
    "no password": lambda _: {"password": None},
    "a wrong password": lambda _: {"password": SecretStr("not-the-password")},
    "no client certificate": lambda _: {"ssl_certfile": None, "ssl_keyfile": None},
    "a CA that did not sign the server": lambda s: {"ssl_ca_certs": s.certs.other_ca},
    "no TLS": lambda s: {
        "url": SecretStr(f"redis://{s.endpoint}/0"),
        "ssl_ca_certs": None,
        "ssl_certfile": None,
        "ssl_keyfile": None,
    },
}


@pytest.mark.parametrize("missing", sorted(REFUSED))
def test_each_setting_is_needed(secure_redis: SecureRedis, missing: str) -> None:
    """The settings reach the connection: without any one of them the server refuses it."""
    settings = secure_redis.settings(**REFUSED[missing](secure_redis))
    client = settings.connect(socket_connect_timeout=2.0)
    try:
        with pytest.raises(redis.RedisError):
            client.ping()
    finally:
        client.close()


def test_tls_files_need_a_rediss_url_and_a_key_needs_its_certificate(
    secure_redis: SecureRedis,
) -> None:
    """redis-py would fail on them inside the first command, with a TypeError."""
    plain = SecretStr(f"redis://{secure_redis.endpoint}/0")
    with pytest.raises(ValidationError, match="needs a rediss://"):
        secure_redis.settings(url=plain, ssl_certfile=None, ssl_keyfile=None)
    with pytest.raises(ValidationError, match="needs RETURNRISK_REDIS_SSL_CERTFILE"):
        secure_redis.settings(ssl_certfile=None)


def test_a_tls_file_without_tls_is_one_line_naming_the_setting(
    cli_app: typer.Typer,
    settings_env: Callable[[dict[str, str]], None],
    secure_redis: SecureRedis,
) -> None:
    settings_env(
        {
            "RETURNRISK_REDIS_URL": f"redis://{secure_redis.endpoint}/0",
            "RETURNRISK_REDIS_SSL_CA_CERTS": str(secure_redis.certs.ca),
        }
    )
    result = CliRunner().invoke(cli_app, ["config"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: RETURNRISK_REDIS_SSL_CA_CERTS=") and "rediss://" in line


def test_the_worker_start_check_reaches_it_and_says_why_when_it_cannot(
    secure_redis: SecureRedis,
) -> None:
    wait_for_redis(secure_redis.settings(), time.monotonic() + 5)  # returns: PONG

    wrong = secure_redis.settings(password=SecretStr("wrong-password-0f3c"))
    started = time.monotonic()
    with pytest.raises(CannotStart) as refused:
        wait_for_redis(wrong, time.monotonic() + 1.5)
    assert time.monotonic() - started < 10
    message = str(refused.value)
    assert "RETURNRISK_REDIS_URL" in message and secure_redis.url in message
    assert "wrong-password-0f3c" not in message and secure_redis.password not in message


def test_the_dependency_probe_sees_it_up_and_sees_a_refused_login(
    secure_redis: SecureRedis, kafka_settings: KafkaSettings
) -> None:
    watch = DependencyWatch(secure_redis.settings(), kafka_settings)
    asyncio.run(watch.check())
    assert watch.problems == {}

    refused = DependencyWatch(
        secure_redis.settings(ssl_certfile=None, ssl_keyfile=None), kafka_settings
    )
    asyncio.run(refused.check())
    assert set(refused.problems) == {"redis"}
    assert secure_redis.password not in refused.problems["redis"]


def test_dev_status_and_its_probe_reach_it(
    secure_redis: SecureRedis, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    assert redis_settings_probe(secure_redis.settings()) is None
    assert redis_settings_probe(secure_redis.settings(password=None)) is not None

    broker, redis_status = status(
        kafka_settings, secure_redis.settings(), DevSettings(state_dir=tmp_path)
    )
    assert broker.reachable and redis_status.reachable, redis_status.problem
    assert redis_status.address == secure_redis.url


def test_the_dev_probe_gives_the_reason_for_an_unreachable_cluster_instead_of_raising() -> None:
    """A cluster client asks a node for the slots when it is built, and raises
    RedisClusterException there (not a RedisError)."""
    unreachable = RedisSettings(url=SecretStr(f"redis://127.0.0.1:{free_port()}/0"), cluster=True)
    assert "cannot be connected" in (redis_settings_probe(unreachable) or "")
