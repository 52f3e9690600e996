"""`returnrisk worker`: run the streaming scorer (the same as `faust -A streams.app worker`)."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer


class LogLevel(StrEnum):
    """faust's own level names."""

    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    CRIT = "crit"


def worker(
    loglevel: Annotated[
        LogLevel,
        typer.Option("--loglevel", "-l", envvar="RETURNRISK_WORKER_LOGLEVEL", help="Log level."),
    ] = LogLevel.INFO,
) -> None:
    """Consume the input topics, keep per-customer features in Redis, score every order and
    return request with the promoted model, and produce risk scores (invalid records go to the
    dead-letter topic). Settings come from RETURNRISK_KAFKA_*, RETURNRISK_REDIS_*,
    RETURNRISK_TOPIC_*, RETURNRISK_FEATURES_* and RETURNRISK_WORKER_* (`returnrisk config`).
    Stops cleanly on Ctrl-C or SIGTERM."""
    os.environ["RETURNRISK_WORKER_LOGLEVEL"] = loglevel.value  # read when the app is built
    from streams.app import app

    sys.argv = ["returnrisk-worker", "worker", "--without-web", "--loglevel", loglevel.value]
    app.main()
