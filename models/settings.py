"""The model registry's setting, read from `RETURNRISK_REGISTRY_*` variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrySettings(BaseSettings):
    """Where model versions and the promoted pointer live (training writes, workers read)."""

    model_config = SettingsConfigDict(env_prefix="RETURNRISK_REGISTRY_", frozen=True)

    dir: Path = Path("registry")


@cache
def registry_settings() -> RegistrySettings:
    return RegistrySettings()
