"""`returnrisk worker`: check what the streaming scorer needs, then run it (streams/app.py)."""

from __future__ import annotations

import os
import time
from enum import StrEnum
from typing import Annotated

import typer

from returnrisk.cli_errors import RUNTIME, CliError


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
    """Score every order and return request on the input topics with the promoted model.

    Consumes the input topics, keeps per-customer features in Redis, scores every order and
    return request with the promoted model, and produce risk scores (invalid records go to the
    dead-letter topic). Settings come from RETURNRISK_KAFKA_*, RETURNRISK_REDIS_*,
    RETURNRISK_TOPIC_*, RETURNRISK_FEATURES_* and RETURNRISK_WORKER_* (`returnrisk config`).

    A worker that cannot run (a bad policy, no promoted model, Redis or the broker unreachable
    within RETURNRISK_WORKER_START_TIMEOUT_S, topics missing) exits with one line naming the
    cause. Ctrl-C or SIGTERM stops it within RETURNRISK_WORKER_STOP_TIMEOUT_S, whatever Redis
    and the broker do; offsets are committed only for delivered batches. GET /ready on the
    metrics port answers 200 while it scores."""
    started = time.monotonic()
    os.environ["RETURNRISK_WORKER_LOGLEVEL"] = loglevel.value  # read when the app is built
    from streams.start_errors import CannotStart
    from streams.startup import check_before_start

    try:
        check_before_start()
    except CannotStart as exc:
        raise CliError(str(exc), RUNTIME) from None
    from streams.app import app, lifecycle
    from streams.faust_app import FAUST_LEVELS, run_worker

    lifecycle.count_start_from(started)
    raise typer.Exit(run_worker(app, lifecycle, FAUST_LEVELS[loglevel.value]))
