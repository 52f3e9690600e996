"""Where the local broker and Redis listen, and the rule that they listen on loopback only.

`dev up` starts servers without authentication, so listening anywhere but loopback would expose
customer data to the network: `require_loopback` is the single place that refuses it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from devstack.errors import DevError
from streams.settings import KafkaSettings, RedisSettings

DEFAULT_KAFKA_PORT = 9092
DEFAULT_REDIS_PORT = 6379


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def bind(self) -> Endpoint:
        """The address to listen on; `localhost` is pinned to 127.0.0.1, which clients try too."""
        return Endpoint("127.0.0.1", self.port) if self.host == "localhost" else self


def parse_host_port(text: str, default_port: int) -> Endpoint:
    """`host:port`, `[::1]:port` or a bare host, as in `bootstrap_servers`."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    try:
        return Endpoint(host, int(port) if port else default_port)
    except ValueError:
        raise DevError(f"cannot read host:port from {text!r}") from None


def kafka_endpoints(kafka: KafkaSettings) -> list[Endpoint]:
    """Every entry of `bootstrap_servers`: a broker of a cluster that answers is reused."""
    return [parse_host_port(server, DEFAULT_KAFKA_PORT) for server in kafka.bootstrap_list]


def kafka_endpoint(kafka: KafkaSettings) -> Endpoint:
    """The one broker `dev up` can start: the only entry of `bootstrap_servers`."""
    servers = kafka_endpoints(kafka)
    if len(servers) != 1:
        raise DevError(
            "no broker of RETURNRISK_KAFKA_BOOTSTRAP_SERVERS answers, and dev up starts one "
            f"local broker only for a single host:port (got {kafka.bootstrap_servers!r})"
        )
    return servers[0]


def redis_endpoint(redis: RedisSettings) -> Endpoint:
    """Host and port of `RETURNRISK_REDIS_URL`; only plain `redis://` URLs can be started."""
    parts = urlsplit(redis.url.get_secret_value())
    if parts.scheme != "redis" or not parts.hostname:
        raise DevError(
            f"cannot start Redis for {redis.url_redacted}: dev up only starts a plain "
            "redis://host:port server"
        )
    return Endpoint(parts.hostname, parts.port or DEFAULT_REDIS_PORT)


def require_loopback(endpoint: Endpoint, what: str) -> None:
    if not endpoint.is_loopback:
        raise DevError(
            f"refusing to start {what} on {endpoint}: dev up only listens on loopback "
            "(127.0.0.1, ::1 or localhost) because its servers have no authentication"
        )
