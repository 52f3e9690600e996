"""Is something answering on an address, and does it speak Kafka or Redis?

`dev up` reuses a server that already answers and refuses a port held by anything else, so
the probes distinguish "nothing listens" from "something else listens". The Kafka probe is one
raw ApiVersions request: it needs no client library, takes milliseconds, and any Kafka-protocol
broker (tansu, Apache Kafka, Redpanda) must answer it, before authentication too.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from devstack.endpoints import Endpoint

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


def kafka_probe(endpoint: Endpoint, timeout_s: float = 1.0) -> str | None:
    """None when a Kafka broker answers on `endpoint`, else the reason it does not."""
    client_id = b"returnrisk-probe"
    request = struct.pack(">hhih", _API_VERSIONS_KEY, 0, _CORRELATION_ID, len(client_id))
    request += client_id
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            if not 6 <= size <= _MAX_RESPONSE_BYTES:
                return "the reply is not a Kafka response"
            correlation_id, error_code = struct.unpack(">ih", _recv_exact(sock, 6))
    except OSError as exc:
        return str(exc) or type(exc).__name__
    if correlation_id != _CORRELATION_ID:
        return "the reply is not a Kafka response"
    if error_code != 0:
        return f"ApiVersions failed with Kafka error code {error_code}"
    return None


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
    options = {
        **client_options,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }
    client = redis.Redis.from_url(url, **options)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None
