"""Address parsing and the loopback rule (no infrastructure needed)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from devstack.endpoints import (
    Endpoint,
    kafka_endpoint,
    kafka_endpoints,
    parse_host_port,
    redis_endpoint,
    require_loopback,
)
from devstack.errors import DevError
from streams.settings import KafkaSettings, RedisSettings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9092", Endpoint("127.0.0.1", 9092)),
        ("localhost", Endpoint("localhost", 9092)),
        ("[::1]:19092", Endpoint("::1", 19092)),
        (" kafka.internal:29092 ", Endpoint("kafka.internal", 29092)),
    ],
)
def test_parse_host_port(text: str, expected: Endpoint) -> None:
    assert parse_host_port(text, 9092) == expected


def test_parse_host_port_names_the_bad_value() -> None:
    with pytest.raises(DevError, match="127.0.0.1:http"):
        parse_host_port("127.0.0.1:http", 9092)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - the address being refused
        ("192.168.1.10", False),
        ("kafka.internal", False),
    ],
)
def test_only_loopback_addresses_may_be_started(host: str, loopback: bool) -> None:
    endpoint = Endpoint(host, 9092)
    assert endpoint.is_loopback is loopback
    if loopback:
        require_loopback(endpoint, "the Kafka broker")
    else:
        with pytest.raises(DevError, match="refusing to start the Kafka broker"):
            require_loopback(endpoint, "the Kafka broker")


def test_localhost_binds_ipv4_loopback_and_ipv6_is_bracketed() -> None:
    assert Endpoint("localhost", 9092).bind == Endpoint("127.0.0.1", 9092)
    assert str(Endpoint("::1", 9092)) == "[::1]:9092"


def test_dev_manages_exactly_one_bootstrap_server() -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9092,127.0.0.1:9093")
    with pytest.raises(DevError, match="single host:port"):
        kafka_endpoint(kafka)
    assert [str(e) for e in kafka_endpoints(kafka)] == ["127.0.0.1:9092", "127.0.0.1:9093"]


def test_redis_endpoint_defaults_the_port_and_refuses_unix_sockets() -> None:
    assert redis_endpoint(RedisSettings(url=SecretStr("redis://127.0.0.1/0"))) == Endpoint(
        "127.0.0.1", 6379
    )
    with pytest.raises(DevError, match="plain redis://host:port"):
        redis_endpoint(RedisSettings(url=SecretStr("unix:///tmp/redis.sock")))
