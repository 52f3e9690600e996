"""Is something answering on an address, and does it speak Kafka or Redis?

`dev up` reuses a server that already answers and refuses a port held by anything else, so
the probes distinguish "nothing listens" from "something else listens". The Kafka probe is one
raw ApiVersions request: it needs no client library, takes milliseconds, and any Kafka-protocol
broker (tansu, Apache Kafka, Redpanda) must answer it, before authentication too; over TLS when
the settings say SSL or SASL_SSL (a TLS listener answers nothing else).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from devstack.endpoints import Endpoint
from streams.settings import KafkaSettings, RedisSettings

_API_VERSIONS_KEY = 18
_CORRELATION_ID = 0x52525231  # arbitrary; the broker must echo it back
_MAX_RESPONSE_BYTES = 1 << 20


def port_open(endpoint: Endpoint, timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to `endpoint` is accepted."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s):
            return True
    except OSError:
        return False


def kafka_probe(
    endpoint: Endpoint, timeout_s: float = 1.0, ssl_context: ssl.SSLContext | None = None
) -> str | None:
    """None when a Kafka broker answers on `endpoint`, else the reason it does not."""
    client_id = b"returnrisk-probe"
    request = struct.pack(">hhih", _API_VERSIONS_KEY, 0, _CORRELATION_ID, len(client_id))
    request += client_id
    try:
        with (
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s) as plain,
            _secured(plain, endpoint, ssl_context) as sock,
        ):
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            if not 6 <= size <= _MAX_RESPONSE_BYTES:
                return "the reply is not a Kafka response"
            correlation_id, error_code = struct.unpack(">ih", _recv_exact(sock, 6))
    except OSError as exc:  # ssl.SSLError included
        return str(exc) or type(exc).__name__
    if correlation_id != _CORRELATION_ID:
        return "the reply is not a Kafka response"
    if error_code != 0:
        return f"ApiVersions failed with Kafka error code {error_code}"
    return None


def kafka_settings_probe(kafka: KafkaSettings, endpoint: Endpoint) -> str | None:
    """`kafka_probe` with the TLS of `kafka` (its CA and client certificate) when it has TLS."""
    return kafka_probe(endpoint, ssl_context=kafka.aiokafka_options().get("ssl_context"))


def _secured(
    plain: socket.socket, endpoint: Endpoint, ssl_context: ssl.SSLContext | None
) -> contextlib.AbstractContextManager[socket.socket]:
    if ssl_context is None:
        return contextlib.nullcontext(plain)
    return ssl_context.wrap_socket(plain, server_hostname=endpoint.host)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed before a complete reply")
        data += chunk
    return data


def redis_probe(url: str, client_options: dict[str, Any], timeout_s: float = 1.0) -> str | None:
    """None when Redis at `url` answers PING, else the reason it does not (no retries)."""
    return _ping(lambda: redis.Redis.from_url(url, **client_options, **_once(timeout_s)))


def redis_settings_probe(settings: RedisSettings, timeout_s: float = 1.0) -> str | None:
    """`redis_probe` through `RedisSettings.connect`, so password, TLS and cluster mode are those
    every other client of these settings uses."""
    return _ping(lambda: settings.connect(**_once(timeout_s)))


def _once(timeout_s: float) -> dict[str, Any]:
    return {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }


def _ping(connect: Callable[[], redis.Redis | RedisCluster]) -> str | None:
    # A cluster client asks a node for the slots when it is built, and fails with an exception
    # that is not a RedisError.
    try:
        client = connect()
    except (redis.RedisError, RedisClusterException) as exc:
        return str(exc) or type(exc).__name__
    try:
        client.ping()
    except (redis.RedisError, RedisClusterException) as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None
