"""(b) The framework's ceiling: a faust agent that forwards raw batches and does nothing else.

Run as its own process (`python -m bench.faust_forward`) so faust's event loop and
logging set-up never touch the bench process. Configured from the environment
(`bench.phases.faust_forward_env`): every RETURNRISK_KAFKA_* setting, SASL and TLS included,
RETURNRISK_BENCH_SOURCES (comma separated), RETURNRISK_BENCH_TARGET, RETURNRISK_BENCH_APP_ID,
RETURNRISK_BENCH_BATCH_SIZE.
The app is built by the worker's own `streams.faust_app.create_app`, so (b) and (c) differ only
in work.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import faust

from streams.faust_app import create_app, keep_root_logger_at

_BATCH_WAIT_S = 0.05


def _env(name: str) -> str:
    value = os.environ.get(f"RETURNRISK_BENCH_{name}")
    if not value:
        raise SystemExit(f"faust_forward: RETURNRISK_BENCH_{name} is not set")
    return value


app = create_app(_env("APP_ID"))
keep_root_logger_at(app, logging.WARNING)
sources = app.topic(*_env("SOURCES").split(","), key_type=bytes, value_type=bytes)
TARGET = _env("TARGET")
BATCH_SIZE = int(_env("BATCH_SIZE"))


@app.agent(sources, name="forward")
async def forward(stream: faust.StreamT[bytes]) -> None:
    async for values in stream.take(BATCH_SIZE, within=_BATCH_WAIT_S):
        deliveries = [
            await app.producer.send(TARGET, None, value, None, None, None) for value in values
        ]
        await asyncio.gather(*deliveries)


if __name__ == "__main__":
    sys.argv = ["returnrisk-bench-faust", "worker", "--without-web", "--loglevel", "warn"]
    app.main()
