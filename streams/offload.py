"""Where a batch is handled: `ScoringPipeline` in its own process, or inline.

faust's per-event machinery (fetch, the stream iterator, acks) and the pipeline's own work
(validate, features, score, build outputs) each take about one core at full speed, and in one
process they share one GIL. `PipelineProcess` runs the pipeline in a child process: the agent
sends a batch's raw records, and while it awaits the outputs faust keeps filling the next batch
in the background (`take_events`), so the two overlap on two cores.

The child only computes and reads and writes Redis, exactly as the inline pipeline does; it
never touches Kafka. The agent produces the outputs and only then lets faust commit, so the
delivery guarantee is unchanged. The child records the pipeline's metrics
(`metrics.PIPELINE_METRICS`) and sends their values with every reply; the agent's /metrics
serves them. If the child dies, the call fails as a Redis error would (the batch is retried) and
a new child starts, whose pipeline loads the held events from Redis again, as after a rebalance.
The child ignores SIGINT and SIGTERM (the worker decides when it stops) and exits when the
worker's end of the pipe closes: at exit, or when the worker is killed.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import pickle
import signal
import traceback
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any, NoReturn, Protocol

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

from streams import metrics
from streams.pipeline import BatchOutput, ConsumerProgress, InputRecord, ScoringPipeline

logger = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 10.0


class PipelineProcessDied(ConnectionError):
    """The pipeline's process ended while handling a call; the call's batch is retried."""


class RemoteTraceback(Exception):
    """Where, in the pipeline's process, an error it sent back was raised."""

    def __str__(self) -> str:
        return str(self.args[0])


Released = Mapping[int, Sequence[str]]
"""`BatchOutput.released` of a delivered batch, for `ScoringPipeline.settle`."""


class BatchHandler(Protocol):
    async def handle(
        self, records: Sequence[InputRecord], progress: ConsumerProgress, settled: list[Released]
    ) -> BatchOutput:
        """`ScoringPipeline.settle` each delivered batch, then `ScoringPipeline.handle` this
        one: one call."""
        ...

    async def waiting(self, generation: int) -> bool:
        """`ScoringPipeline.waiting`."""
        ...


class InlinePipeline:
    """The pipeline in a thread of the worker's own process (`RETURNRISK_WORKER_PIPELINE_PROCESS`
    off): one core for everything."""

    def __init__(self, pipeline: ScoringPipeline) -> None:
        self._pipeline = pipeline
        self._lock = asyncio.Lock()  # one call at a time, as in the pipeline's process

    async def handle(
        self, records: Sequence[InputRecord], progress: ConsumerProgress, settled: list[Released]
    ) -> BatchOutput:
        async with self._lock:
            return await asyncio.to_thread(
                settle_and_handle, self._pipeline, records, progress, settled
            )

    async def waiting(self, generation: int) -> bool:
        async with self._lock:
            return self._pipeline.waiting(generation)


class _ChildMetrics:
    """A Prometheus collector serving the child's latest values of the pipeline's metrics."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> list[Metric]:
        return self.families


class PipelineProcess:
    """The pipeline in a child process (spawned, so it shares no state with faust), one call at
    a time over a pipe."""

    def __init__(self, build: Callable[[], ScoringPipeline], loglevel: int) -> None:
        """`build` runs in the child, so it must be importable by name (a module function)."""
        self._build, self._loglevel = build, loglevel
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self._metrics = _ChildMetrics()
        for metric in metrics.PIPELINE_METRICS:  # the child's values replace the parent's
            REGISTRY.unregister(metric)
        REGISTRY.register(self._metrics)
        atexit.register(self.stop)

    async def start(self) -> None:
        """Start the child and wait until its pipeline is built; its error if that fails."""
        async with self._lock:
            await self._start()

    async def handle(
        self, records: Sequence[InputRecord], progress: ConsumerProgress, settled: list[Released]
    ) -> BatchOutput:
        output: BatchOutput = await self._call(settle_and_handle, records, progress, settled)
        return output

    async def waiting(self, generation: int) -> bool:
        waiting: bool = await self._call(ScoringPipeline.waiting, generation)
        return waiting

    def stop(self) -> None:
        """Close the pipe (the child exits when it sees that) and wait for the child."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(_STOP_TIMEOUT_S)
            if self._process.is_alive():
                logger.warning("pipeline process did not exit; killing it")
                self._process.kill()
                self._process.join()
            self._process = None

    async def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve,
            args=(child, self._build, self._loglevel),
            name="returnrisk-pipeline",
        )
        self._process.start()
        child.close()  # the child's end lives in the child only, so it sees the parent go
        self._conn = parent
        await self._receive()

    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(pipeline, *args)` in the child (a module-level function or a method of
        `ScoringPipeline`, sent by name)."""
        async with self._lock:
            if self._conn is None:
                await self._start()
            assert self._conn is not None  # noqa: S101 - _start sets it or raises
            try:
                self._conn.send((function, args))
            except OSError as exc:
                self._died(exc)
            return await self._receive()

    async def _receive(self) -> Any:
        assert self._conn is not None  # noqa: S101 - called with a live pipe
        try:
            ok, value, families = await asyncio.to_thread(self._conn.recv)
        except (EOFError, OSError) as exc:
            self._died(exc)
        self._metrics.families = families
        if not ok:
            error, trace = value
            raise error from RemoteTraceback(trace)
        return value

    def _died(self, exc: BaseException) -> NoReturn:
        code = self._process.exitcode if self._process else None
        self.stop()
        raise PipelineProcessDied(f"the pipeline process ended (exit code {code})") from exc


def settle_and_handle(
    pipeline: ScoringPipeline,
    records: Sequence[InputRecord],
    progress: ConsumerProgress,
    settled: list[Released],
) -> BatchOutput:
    for released in settled:
        pipeline.settle(released)
    return pipeline.handle(records, progress)


def _serve(conn: Connection, build: Callable[[], ScoringPipeline], loglevel: int) -> None:
    """The child: build the pipeline, then answer calls until the parent's end closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=loglevel, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
    )
    try:
        pipeline = build()
    except Exception as exc:  # the parent raises it: the worker cannot start
        _reply_error(conn, exc)
        return
    conn.send((True, None, _families()))
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = function(pipeline, *args)
        except Exception as exc:  # sent back: the parent retries the batch or raises
            _reply_error(conn, exc)
            continue
        conn.send((True, result, _families()))


def _reply_error(conn: Connection, exc: Exception) -> None:
    trace = "".join(traceback.format_exception(exc))
    try:
        conn.send((False, (exc, trace), _families()))
    except (pickle.PicklingError, TypeError, AttributeError):  # an error that cannot travel
        conn.send((False, (RuntimeError(f"{type(exc).__name__}: {exc}"), trace), _families()))


def _families() -> list[Metric]:
    return [family for metric in metrics.PIPELINE_METRICS for family in metric.collect()]
