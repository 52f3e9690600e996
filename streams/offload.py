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
The child ignores SIGINT and SIGTERM (the worker decides when it stops); it exits when the
worker asks it to (the agent stops, or the interpreter exits) or when the worker's end of the
pipe closes (the worker was killed). Replies are read by a daemon thread, so a read waiting on
the child never holds up the worker's exit.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any, NamedTuple, Protocol

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

from streams import metrics
from streams.gc_pauses import tame_collections
from streams.micro_batch import BatchOutput, ConsumerProgress, InputRecord, ScoringPipeline

logger = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 10.0
_STOP = "stop"
"""The call that ends the child (after the calls sent before it)."""


class PipelineProcessDied(ConnectionError):
    """The pipeline's process ended while handling a call; the call's batch is retried."""


class OutOfOrder(ConnectionError):
    """A batch sent behind one that failed: refused, and sent again after it."""


class RemoteTraceback(Exception):
    """Where, in the pipeline's process, an error it sent back was raised."""

    def __str__(self) -> str:
        return str(self.args[0])


class Sequenced(NamedTuple):
    """A batch's place in the flow: its number, and the first batch not handled yet."""

    number: int
    oldest: int


Released = Mapping[int, Sequence[str]]
"""`BatchOutput.released` of a delivered batch, for `ScoringPipeline.settle`."""


class BatchHandler(Protocol):
    async def handle(
        self,
        sequence: Sequenced,
        records: Sequence[InputRecord],
        progress: ConsumerProgress,
        settled: list[Released],
    ) -> BatchOutput:
        """`OrderedPipeline.handle`; calls may overlap (the next batch is sent while one is
        handled)."""
        ...

    async def waiting(self, generation: int) -> bool:
        """`ScoringPipeline.waiting`."""
        ...

    def stop(self) -> None:
        """The worker is stopping: end what runs beside it."""
        ...

    def kill(self) -> None:
        """The worker exits at once: end what runs beside it without waiting."""
        ...


class OrderedPipeline:
    """The pipeline taking batches in sequence only. Batches are sent ahead, so after one fails
    the ones behind it are refused (`OutOfOrder`) until it is sent again: a retry never lets a
    later batch be applied before an earlier one."""

    def __init__(self, pipeline: ScoringPipeline) -> None:
        self._pipeline = pipeline
        self._expected: int | None = None  # None: a new pipeline starts at the oldest batch

    def handle(
        self,
        sequence: Sequenced,
        records: Sequence[InputRecord],
        progress: ConsumerProgress,
        settled: list[Released],
    ) -> BatchOutput:
        """Settle the delivered batches (`ScoringPipeline.settle`), then handle this one."""
        if self._expected is None:
            self._expected = sequence.oldest
        if sequence.number != self._expected:
            raise OutOfOrder(f"batch {sequence.number} sent behind batch {self._expected}")
        for released in settled:
            self._pipeline.settle(released)
        output = self._pipeline.handle(records, progress)
        self._expected = sequence.number + 1
        return output

    def waiting(self, generation: int) -> bool:
        return self._pipeline.waiting(generation)


class InlinePipeline:
    """The pipeline in a thread of the worker's own process (`RETURNRISK_WORKER_PIPELINE_PROCESS`
    off): one core for everything."""

    def __init__(self, pipeline: ScoringPipeline) -> None:
        self._pipeline = OrderedPipeline(pipeline)
        self._lock = asyncio.Lock()  # one call at a time, as in the pipeline's process

    async def handle(
        self,
        sequence: Sequenced,
        records: Sequence[InputRecord],
        progress: ConsumerProgress,
        settled: list[Released],
    ) -> BatchOutput:
        async with self._lock:
            return await asyncio.to_thread(
                self._pipeline.handle, sequence, records, progress, settled
            )

    async def waiting(self, generation: int) -> bool:
        async with self._lock:
            return self._pipeline.waiting(generation)

    def stop(self) -> None:
        """Nothing runs beside the worker."""

    def kill(self) -> None:
        """Nothing runs beside the worker."""


class _ChildMetrics:
    """A Prometheus collector serving the child's latest values of the pipeline's metrics."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> list[Metric]:
        return self.families


class PipelineProcess:
    """The pipeline in a child process (spawned, so it shares no state with faust). Calls are
    sent in order without waiting for earlier replies, so the child always has the next batch;
    it answers them in order."""

    def __init__(self, build: Callable[[], ScoringPipeline], loglevel: int) -> None:
        """`build` runs in the child, so it must be importable by name (a module function)."""
        self._build, self._loglevel = build, loglevel
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._sending = asyncio.Lock()
        self._replies: deque[asyncio.Future[Any]] = deque()
        self._metrics = _ChildMetrics()
        for metric in metrics.PIPELINE_METRICS:  # the child's values replace the parent's
            REGISTRY.unregister(metric)
        REGISTRY.register(self._metrics)
        metrics.PIPELINE_PID.source = self._pid
        atexit.register(self.stop)

    async def start(self) -> None:
        """Start the child and wait until its pipeline is built; its error if that fails."""
        async with self._sending:
            await self._start()

    async def handle(
        self,
        sequence: Sequenced,
        records: Sequence[InputRecord],
        progress: ConsumerProgress,
        settled: list[Released],
    ) -> BatchOutput:
        output: BatchOutput = await self._call("handle", sequence, records, progress, settled)
        return output

    async def waiting(self, generation: int) -> bool:
        waiting: bool = await self._call("waiting", generation)
        return waiting

    def stop(self) -> None:
        """Ask the child to exit once it has answered what it was sent, wait for it, close the
        pipe."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.send((_STOP, ()))
            except OSError:  # the child has gone already
                pass
        if self._process is not None:
            self._process.join(_STOP_TIMEOUT_S)
            if self._process.is_alive():
                logger.warning("pipeline process did not exit; killing it")
                self._process.kill()
                self._process.join()
            self._process = None
        if conn is not None:
            conn.close()

    def kill(self) -> None:
        """SIGKILL the child (from any thread): the worker exits without waiting for it."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()

    def _pid(self) -> int | str:
        """The child's pid; while none runs, one that names no process (so no series)."""
        process = self._process
        return process.pid if process is not None and process.pid is not None else "none"

    async def _start(self) -> Connection:
        """The child started, its pipeline built; the worker's end of the pipe to it."""
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve,
            args=(child, self._build, self._loglevel),
            name="returnrisk-pipeline",
        )
        self._process.start()
        child.close()  # the child's end lives in the child only, so it sees the parent go
        self._conn = parent
        try:
            ok, value, families = await asyncio.to_thread(parent.recv)
        except (EOFError, OSError) as exc:
            raise self._died() from exc
        self._metrics.families = families
        _result(ok, value)
        reader = threading.Thread(
            target=self._read,
            args=(parent, asyncio.get_running_loop()),
            name="returnrisk-pipeline-replies",
            daemon=True,
        )
        reader.start()
        return parent

    async def _call(self, method: str, *args: Any) -> Any:
        """`OrderedPipeline.<method>(*args)` in the child."""
        async with self._sending:
            conn = self._conn or await self._start()
            reply = asyncio.get_running_loop().create_future()
            try:
                conn.send((method, args))
            except OSError as exc:
                raise self._died() from exc
            self._replies.append(reply)
        return await reply

    def _read(self, conn: Connection, loop: asyncio.AbstractEventLoop) -> None:
        """In the reader thread: hand the child's replies to the loop, in the order the calls
        were sent, until its pipe closes."""
        while True:
            try:
                reply = conn.recv()
            except (EOFError, OSError) as exc:
                _call_soon(loop, self._ended, conn, exc)
                return
            _call_soon(loop, self._answer, reply)

    def _answer(self, reply: tuple[bool, Any, list[Metric]]) -> None:
        ok, value, families = reply
        self._metrics.families = families
        waiting = self._replies.popleft()
        if waiting.done():  # its caller was cancelled: the worker is stopping
            return
        try:
            waiting.set_result(_result(ok, value))
        except Exception as error:  # noqa: BLE001 - the caller's to raise
            waiting.set_exception(error)

    def _ended(self, conn: Connection, cause: BaseException) -> None:
        """The pipe closed: by `stop`, or because the child ended (the calls waiting fail)."""
        if conn is self._conn:
            died = self._died()
            died.__cause__ = cause
            for waiting in self._replies:
                if not waiting.done():
                    waiting.set_exception(died)
        self._replies.clear()

    def _died(self) -> PipelineProcessDied:
        code = self._process.exitcode if self._process else None
        self.stop()
        return PipelineProcessDied(f"the pipeline process ended (exit code {code})")


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed: nobody waits for a reply any more
        pass


def _result(ok: bool, value: Any) -> Any:
    if not ok:
        error, trace = value
        raise error from RemoteTraceback(trace)
    return value


def _serve(conn: Connection, build: Callable[[], ScoringPipeline], loglevel: int) -> None:
    """The child: build the pipeline, then answer calls until the parent's end closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=loglevel, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
    )
    try:
        pipeline = OrderedPipeline(build())
    except Exception as exc:  # the parent raises it: the worker cannot start
        _reply_error(conn, exc)
        return
    tame_collections("pipeline process", metrics.PIPELINE_GC_PAUSE_SECONDS)
    conn.send((True, None, _families()))
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):
            return
        if method == _STOP:
            return
        try:
            result = getattr(pipeline, method)(*args)
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
