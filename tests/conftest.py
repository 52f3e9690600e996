"""Fixtures shared by every test; they live in `tests/fixtures/` and are exposed here.

Infrastructure (session scope, real processes over TCP): `broker_endpoint`, `kafka_settings`,
`redis_url`, `redis_settings`. Per test: `prefix` (Redis keys of its own), `topic_factory`,
`fresh_topics`, `event_factory`, `settings_env`; `cli_app` is the `returnrisk` typer app.
Models (session): `trained_registry`; `small_data`, `trained_version`, `own_model_version`
(`tests.fixtures.trained_versions`).
Worker: `worker_env` and `worker`, a `returnrisk worker` process on the session's broker and Redis.
"""

from __future__ import annotations

import pytest

from tests.fixtures.cli import cli_app, settings_env
from tests.fixtures.events import EventFactory
from tests.fixtures.infra import (
    broker_endpoint,
    fresh_topics,
    kafka_settings,
    prefix,
    redis_settings,
    redis_url,
    topic_factory,
)
from tests.fixtures.models import trained_registry
from tests.fixtures.redis_cluster import redis_cluster_url
from tests.fixtures.trained_versions import own_model_version, small_data, trained_version
from tests.fixtures.worker import worker, worker_env

__all__ = [
    "broker_endpoint",
    "cli_app",
    "fresh_topics",
    "kafka_settings",
    "prefix",
    "redis_settings",
    "redis_cluster_url",
    "redis_url",
    "settings_env",
    "topic_factory",
    "own_model_version",
    "small_data",
    "trained_registry",
    "trained_version",
    "worker",
    "worker_env",
]


@pytest.fixture
def event_factory() -> EventFactory:
    """Valid input events as dicts, with unique ids; see `tests.fixtures.events`."""
    return EventFactory()
