"""The local development stack's settings, read from `RETURNRISK_DEV_*` variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DevSettings(BaseSettings):
    """Local infrastructure started by `returnrisk dev up`."""

    model_config = SettingsConfigDict(env_prefix="RETURNRISK_DEV_", frozen=True)

    state_dir: Path = Path(".returnrisk/dev")
    startup_timeout_s: float = Field(default=30.0, gt=0)


@cache
def dev_settings() -> DevSettings:
    return DevSettings()
