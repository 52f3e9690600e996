"""The worker's boundaries and their settings, read from `RETURNRISK_*` variables.

One frozen settings class per boundary: the Kafka cluster (`RETURNRISK_KAFKA_*`), its topics
(`RETURNRISK_TOPIC_*`), the Redis that holds per-customer state (`RETURNRISK_REDIS_*`) and the
worker itself (`RETURNRISK_WORKER_*`). The producer, the local development stack and the bench
reach the same broker and Redis, so they read these too. Secrets are `SecretStr` and never
printed: `returnrisk config` shows them hidden.
"""

from __future__ import annotations

import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import redis
from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException


class KafkaSettings(BaseSettings):
    """How to reach the Kafka cluster (or the local tansu broker in development)."""

    model_config = SettingsConfigDict(env_prefix="RETURNRISK_KAFKA_", frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "returnrisk"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, validate_default=True, description="Required with SASL_*, else unset."
    )
    sasl_username: str | None = Field(default=None, validate_default=True)
    sasl_password: SecretStr | None = Field(default=None, validate_default=True)
    ssl_cafile: Path | None = Field(default=None, description="Only with SSL or SASL_SSL.")
    ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (mutual TLS); only with SSL or SASL_SSL."
    )
    ssl_keyfile: Path | None = Field(
        default=None, description="Its private key; only with SSL or SASL_SSL."
    )
    partitions: int = Field(default=4, ge=1, description="Partitions for topics we create.")
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("sasl_mechanism", "sasl_username", "sasl_password")
    @classmethod
    def _sasl_with_a_sasl_protocol(cls, value: Any, info: ValidationInfo) -> Any:
        """faust and aiokafka disagree on half-set SASL (faust falls back to PLAINTEXT, aiokafka
        to PLAIN), and a mechanism a PLAINTEXT or SSL connection ignores looks like
        authentication that is not there: both are refused here, before any client is built."""
        protocol = info.data.get("security_protocol")
        if protocol is None:  # invalid itself, and reported as such
            return value
        if protocol.startswith("SASL_") and value is None:
            raise ValueError(f"required with RETURNRISK_KAFKA_SECURITY_PROTOCOL={protocol}")
        if info.field_name == "sasl_mechanism" and value and not protocol.startswith("SASL_"):
            raise ValueError(
                f"RETURNRISK_KAFKA_SECURITY_PROTOCOL is {protocol}, which does not authenticate: "
                "use SASL_PLAINTEXT or SASL_SSL"
            )
        return value

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _tls_files_with_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """A CA or client certificate on a connection without TLS would be ignored in silence."""
        protocol = info.data.get("security_protocol")
        if value is not None and protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
            raise ValueError(
                f"RETURNRISK_KAFKA_SECURITY_PROTOCOL is {protocol}, without TLS: use SSL or "
                "SASL_SSL"
            )
        return value

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def aiokafka_options(self) -> dict[str, Any]:
        """Connection options shared by every aiokafka producer, consumer and admin client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_list,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": int(self.request_timeout_s * 1000),
        }
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            )
        return options


class TopicSettings(BaseSettings):
    """Topic names; every input topic is keyed and co-partitioned by customer_id."""

    model_config = SettingsConfigDict(env_prefix="RETURNRISK_TOPIC_", frozen=True)

    orders: str = "orders"
    returns: str = "returns"
    campaign_touches: str = "campaign-touches"
    customers: str = "customers"
    scores: str = "return-risk-scores"
    alerts: str = "return-risk-alerts"
    offers: str = "retention-offers"
    dlq: str = "return-risk-dlq"

    def for_event_type(self, event_type: str) -> str:
        """The input topic an event type is produced to."""
        routes = {
            "order_placed": self.orders,
            "return_requested": self.returns,
            "return_received": self.returns,
            "campaign_touch": self.campaign_touches,
            "customer_updated": self.customers,
        }
        return routes[event_type]

    @property
    def inputs(self) -> list[str]:
        return [self.orders, self.returns, self.campaign_touches, self.customers]

    @property
    def outputs(self) -> list[str]:
        return [self.scores, self.alerts, self.offers, self.dlq]


REDIS_ERRORS = (redis.RedisError, RedisClusterException)
"""What a Redis, or a Redis Cluster, that is away raises: a cluster client cannot even be built
without reaching a node, and says so with an exception outside `RedisError`."""

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
REDIS_SCHEMES = ("redis", "rediss", "unix")


class RedisSettings(BaseSettings):
    """Where per-customer feature state lives."""

    model_config = SettingsConfigDict(env_prefix="RETURNRISK_REDIS_", frozen=True)

    url: SecretStr = SecretStr(DEFAULT_REDIS)
    cluster: bool = Field(
        default=False,
        description="A Redis Cluster, reached through the node in `url` (it finds the others).",
    )
    password: SecretStr | None = Field(
        default=None, description="AUTH password; a password in `url` takes precedence."
    )
    ssl_ca_certs: Path | None = Field(
        default=None, description="CA bundle that signed the server's certificate (rediss://)."
    )
    ssl_certfile: Path | None = Field(
        default=None, description="Client certificate, for a Redis that requires one (rediss://)."
    )
    ssl_keyfile: Path | None = Field(
        default=None, description="The client certificate's private key (rediss://)."
    )
    socket_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _has_redis_scheme(cls, url: SecretStr) -> SecretStr:
        """redis-py refuses any other URL only when a client is built, deep inside a command."""
        if urlsplit(url.get_secret_value()).scheme not in REDIS_SCHEMES:
            raise ValueError("expected a redis://, rediss:// or unix:// URL, like " + DEFAULT_REDIS)
        return url

    @field_validator("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _tls_files_with_rediss(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """redis-py takes TLS options only for rediss:// and fails on them deep inside the first
        command otherwise (a TypeError, not a Redis error)."""
        url = info.data.get("url")
        if value is not None and url is not None:
            if urlsplit(url.get_secret_value()).scheme != "rediss":
                raise ValueError("needs a rediss:// RETURNRISK_REDIS_URL (Redis over TLS)")
        if info.field_name == "ssl_keyfile" and value is not None:
            if info.data.get("ssl_certfile") is None:
                raise ValueError("needs RETURNRISK_REDIS_SSL_CERTFILE, the certificate it signs")
        return value

    @property
    def url_redacted(self) -> str:
        return redact_url(self.url.get_secret_value())

    def connect(self, **overrides: Any) -> redis.Redis | RedisCluster:
        """A client of this Redis (one node, or the cluster): the only place the worker and
        its tools build one, so every option reaches every client."""
        options = {**self.client_options(), **overrides}
        url = self.url.get_secret_value()
        if self.cluster:
            return RedisCluster.from_url(url, **options)
        return redis.Redis.from_url(url, **options)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for `redis.Redis.from_url` (sync or asyncio)."""
        options: dict[str, Any] = {"socket_timeout": self.socket_timeout_s}
        if self.password:
            options["password"] = self.password.get_secret_value()
        if self.ssl_ca_certs:
            options["ssl_ca_certs"] = str(self.ssl_ca_certs)
        if self.ssl_certfile:
            options["ssl_certfile"] = str(self.ssl_certfile)
        if self.ssl_keyfile:
            options["ssl_keyfile"] = str(self.ssl_keyfile)
        return options


class WorkerSettings(BaseSettings):
    """The streaming scorer (`returnrisk worker`)."""

    model_config = SettingsConfigDict(env_prefix="RETURNRISK_WORKER_", frozen=True)

    app_id: str = Field(default="returnrisk-scorer", description="Kafka consumer group id.")
    loglevel: Literal["debug", "info", "warn", "error", "crit"] = "info"
    batch_size: int = Field(default=500, ge=1, description="Most events in one micro-batch.")
    batch_wait_s: float = Field(default=0.05, gt=0, description="Longest wait to fill a batch.")
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="0: no /metrics.")
    metrics_host: str = "127.0.0.1"
    model_poll_s: float = Field(default=2.0, gt=0, description="How often to check promotion.")
    fetch_max_wait_ms: int = Field(
        default=50, ge=1, description="Longest wait of a fetch for data (faust's own is 1,500)."
    )
    fetch_min_bytes: int = Field(
        default=65_536,
        ge=1,
        description="Data a fetch waits for, up to fetch_max_wait_ms: fewer, fuller fetches cost "
        "faust and the broker less per event (aiokafka's own is 1 byte).",
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="faust's event loop: uvloop (C) costs faust less per event than asyncio's "
        "own loop.",
    )
    redis_key_prefix: str = "rr:c"
    pipeline_process: bool = Field(
        default=True,
        description="Run the pipeline in a child process, beside faust's on a second core "
        "(off: in a thread of the worker's process).",
    )
    state_cache_customers: int = Field(
        default=20_000,
        ge=0,
        description="Decoded customer states kept between batches (a state read again is then "
        "neither sent nor decoded); 0: none.",
    )
    scoring_threads: int = Field(
        default=1,
        ge=0,
        description="LightGBM threads per plain prediction (a shadow version's assessment; "
        "scores and their reasons come from explain/tree_shap.py, on one thread). 1: the "
        "pipeline keeps to its own core (more OpenMP threads spin on the core faust's process "
        "needs); 0: LightGBM's default, every core.",
    )
    shadow_version: str | None = Field(
        default=None, description="A model version scored and measured, never emitted."
    )
    policy_file: Path | None = Field(
        default=None, description="Resolutions, offers and alerts; default policy/policy.yaml."
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "returnrisk",
        description="faust's data directory (it keeps its table folders there; the worker uses "
        "no tables): a writable path, also under a read-only root filesystem.",
    )
    redelivery_memory_s: float = Field(
        default=900.0,
        gt=0,
        description="How long (processing time) the row an order or return request was first "
        "scored with is kept, so a redelivery gets the same answer (features/redelivery.py).",
    )
    start_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="How long a starting worker waits for Redis, the broker and its first "
        "assignment before it exits with the cause.",
    )
    stop_timeout_s: float = Field(
        default=12.0,
        gt=0,
        description="Longest clean stop after SIGTERM or SIGINT; past it the worker exits "
        "without committing the unfinished batch.",
    )


_SECRET_QUERY = re.compile(r"([?&][^=&#]*password[^=&#]*=)[^&#]*", re.IGNORECASE)
"""A query parameter redis-py takes as a password (`?password=`, `?ssl_password=`)."""


def redact_url(url: str) -> str:
    """Hide the passwords in a URL: `redis://user:***@host:6379/0`, `unix:///r.sock?password=***`.

    Only the secret is replaced, the rest stays as written (`urlunsplit` would rewrite
    `unix:///path` as `unix:/path`)."""
    parts = urlsplit(url)
    if parts.password is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        url = url.replace(f"{userinfo}@", f"{parts.username or ''}:***@", 1)
    return _SECRET_QUERY.sub(r"\1***", url)


def settings_env(settings: BaseSettings) -> dict[str, str]:
    """The `RETURNRISK_*` variables that rebuild `settings` in a child process, secrets in clear:
    for a child's environment only, never to print. Unset (None) fields are left out."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"{prefix}{name}".upper()] = str(value)
    return env


@cache
def kafka_settings() -> KafkaSettings:
    return KafkaSettings()


@cache
def topic_settings() -> TopicSettings:
    return TopicSettings()


@cache
def redis_settings() -> RedisSettings:
    return RedisSettings()


@cache
def worker_settings() -> WorkerSettings:
    return WorkerSettings()
