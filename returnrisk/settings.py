"""Every boundary's settings in one place, for `returnrisk config` and the CLI's errors.

Each settings class lives with the package whose boundary it configures: `streams.settings`
(Kafka, topics, Redis, the worker), `models.settings` (the registry), `devstack.settings` (the
local broker and Redis). This module only gathers them.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings

from devstack.settings import DevSettings, dev_settings
from models.settings import RegistrySettings, registry_settings
from streams.settings import (
    KafkaSettings,
    RedisSettings,
    TopicSettings,
    WorkerSettings,
    kafka_settings,
    redis_settings,
    topic_settings,
    worker_settings,
)

SETTINGS_CLASSES: dict[str, type[BaseSettings]] = {
    cls.__name__: cls
    for cls in (
        KafkaSettings,
        TopicSettings,
        RedisSettings,
        DevSettings,
        RegistrySettings,
        WorkerSettings,
    )
}
CACHED_GETTERS = (
    kafka_settings,
    topic_settings,
    redis_settings,
    dev_settings,
    worker_settings,
    registry_settings,
)


def describe_settings() -> dict[str, dict[str, Any]]:
    """Every setting in force, secrets hidden, for `returnrisk config`."""
    sections: dict[str, BaseSettings] = {
        "kafka": kafka_settings(),
        "topics": topic_settings(),
        "redis": redis_settings(),
        "dev": dev_settings(),
        "registry": registry_settings(),
        "worker": worker_settings(),
    }
    described = {}
    for name, section in sections.items():
        values = section.model_dump(mode="json")
        if isinstance(section, RedisSettings):
            values["url"] = section.url_redacted
        described[name] = values
    return described
