"""The faust App as returnrisk configures it, shared by the worker and the benchmark."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import faust
import mode.loop
from faust.sensors import Monitor
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

from streams.lifecycle import Lifecycle
from streams.log_rate import limit_repeated_lines
from streams.settings import KafkaSettings, kafka_settings, worker_settings

logger = logging.getLogger(__name__)

_FAUST_CREATE_CONSUMER = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
_FAUST_WAIT_FIRST = faust_aiokafka.Consumer.wait_first
_FAUST_WAIT_NEXT_RECORDS = faust_aiokafka.Consumer._wait_next_records
_FAUST_ON_BUFFER_DROP = faust_aiokafka.Consumer.on_buffer_drop

FAUST_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "crit": logging.CRITICAL,
}


def faust_credentials(kafka: KafkaSettings) -> Any:
    """SASL/TLS settings in faust's terms, or None for PLAINTEXT."""
    options = kafka.aiokafka_options()
    if kafka.sasl_mechanism:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=options["sasl_plain_password"],
            mechanism=kafka.sasl_mechanism,
            ssl_context=options.get("ssl_context"),
        )
    if "ssl_context" in options:
        return faust.SSLCredentials(options["ssl_context"])
    return None


def set_fetch_limits(max_wait_ms: int, min_bytes: int) -> None:
    """How long a fetch may wait for data, and how much it waits for.

    faust hard-codes a 1,500 ms wait and leaves the minimum at aiokafka's 1 byte
    (`AIOKafkaConsumerThread._create_worker_consumer`). With 1 byte, a fetch returns as soon as
    any record is there, so under a steady trickle the consumer fetches a few records at a
    time, and faust and the broker pay their per-fetch cost again and again. A minimum of
    tens of kilobytes makes each fetch wait (at most `max_wait_ms`) for a fuller answer; on a
    backlog fetches are full anyway. The 1,500 ms wait alone put p50 latency near 600 ms on
    tansu, which does not answer a waiting fetch when data arrives, only when the wait ends.
    aiokafka reads both when the consumer starts, so they are set on the consumer faust
    builds, before it starts."""

    def create(self: Any, transport: Any) -> Any:
        consumer = _FAUST_CREATE_CONSUMER(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms
        consumer._fetch_min_bytes = min_bytes
        return consumer

    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]


def use_event_loop(name: str) -> None:
    """faust creates its loop when the worker starts; with uvloop the loop's own work (tasks,
    callbacks, the selector) runs in C, which makes faust's per-record tasks cheaper."""
    if name == "uvloop":
        mode.loop.use("uvloop")


async def wait_for_delivery(self: Any, *coros: Any, timeout: Any = None) -> WaitResults:
    """`Consumer.wait_first` as faust's drain loop uses it (see
    `deliver_records_without_a_race_per_record`): the delivery first gets one turn of the loop
    on its own; faust's race begins only if it is still waiting then."""
    if len(coros) != 2 or self.suspend_flow.is_set() or self.should_stop:
        return await _FAUST_WAIT_FIRST(self, *coros, timeout=timeout)
    delivery, suspended = coros
    delivering = asyncio.ensure_future(delivery)
    await asyncio.sleep(0)
    if not delivering.done():
        return await _FAUST_WAIT_FIRST(self, delivering, suspended, timeout=timeout)
    suspended.close()  # never awaited: faust made the coroutine for its race
    return WaitResults([delivery], [delivering.result()], False)


def deliver_records_without_a_race_per_record() -> None:
    """faust's consumer hands each record to the streams with
    `wait_first(callback(message), suspend_flow.wait())` (`Consumer._drain_messages`, the only
    `wait_first` call on a consumer): four tasks per record (the delivery, and waits for
    suspend_flow, stop and crash), three of them then cancelled. That was about a fifth of the
    worker process's CPU (py-spy --gil), yet the delivery almost never waits: the stream's queue
    takes the record with `put_nowait`. With `wait_for_delivery` a rebalance still abandons a
    delivery that waits (a full buffer, a lock held), as faust's race does. The drain loop ignores
    the result."""
    faust_aiokafka.Consumer.wait_first = wait_for_delivery  # type: ignore[method-assign]


def _resumed(consumer: Any) -> asyncio.Event:
    """Set when a paused partition resumes (`resume_fetching_when_a_buffer_drains`)."""
    event: asyncio.Event | None = consumer.__dict__.get("_returnrisk_resumed")
    if event is None:
        event = consumer.__dict__["_returnrisk_resumed"] = asyncio.Event()
    return event


async def wait_next_records_or_a_resume(self: Any, timeout: float) -> Any:
    """`Consumer._wait_next_records`, except when every partition is paused: it fetches as soon
    as one resumes, instead of faust's blind one-second sleep."""
    if self.flow_active and not self.app.client_only and not self._get_active_partitions():
        resumed = _resumed(self)
        resumed.clear()
        try:
            await asyncio.wait_for(resumed.wait(), timeout)
        except TimeoutError:
            return {}, set()  # what faust's sleep returns: nothing fetched, nothing active
    return await _FAUST_WAIT_NEXT_RECORDS(self, timeout)


def wake_waiting_fetches(fetcher: Any) -> None:
    """End the wait of aiokafka's `Fetcher.fetched_records` calls, which then look again at
    what is buffered for the partitions they were asked for; runs in the fetcher's loop."""
    for waiter in list(fetcher._fetch_waiters):
        fetcher._notify(waiter)


def on_buffer_drop_resume_fetching(self: Any, tp: Any) -> None:
    """`Consumer.on_buffer_drop`; a partition fetched from again also wakes whatever waits."""
    resumed = tp in self._buffered_partitions
    _FAUST_ON_BUFFER_DROP(self, tp)
    if resumed:
        _resumed(self).set()
        consumer, loop = self._thread._consumer, self._thread.thread_loop
        if consumer is not None and consumer._fetcher is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake_waiting_fetches, consumer._fetcher)


def resume_fetching_when_a_buffer_drains() -> None:
    """faust stops fetching a partition while its stream's buffer is nearly full (3,277 of
    `stream_buffer_maxsize` 4,096 records) and fetches again once it drops to 1,638, but
    nothing waiting notices the resume:
    - with every partition paused, its fetch loop sleeps a fixed second
      (`Consumer._wait_next_records`);
    - with some still fetched (a partition that is caught up), aiokafka's `fetched_records`
      waits up to a second for new data on those, while the resumed partition's records sit
      already fetched (the active set it was given grows, but the wait is not woken).
    Either way the agent emptied its buffer and then sat idle for the rest of that second:
    about 0.8 s of every 3-6 s at full load, traced on the bench's (b) agent. Both waits now
    end when a partition resumes."""
    faust_aiokafka.Consumer._wait_next_records = wait_next_records_or_a_resume  # type: ignore[method-assign]
    faust_aiokafka.Consumer.on_buffer_drop = on_buffer_drop_resume_fetching  # type: ignore[method-assign]


class PerEventQuietMonitor(Monitor):
    """faust's Monitor without its bookkeeping per message and per event (about 4 % of the worker
    process's CPU). Those figures feed faust's web /stats, which the worker does not serve; its
    own Prometheus series measure the stream. Offsets, commits and rebalances are still tracked."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        """Not counted."""

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        """Not timed."""

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        """Not timed."""

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        """Not counted."""


def create_app(app_id: str) -> faust.App:
    """Raw bytes in and out (the pipeline decodes with schemas/), acks from all replicas."""
    settings = worker_settings()
    use_event_loop(settings.event_loop)
    set_fetch_limits(settings.fetch_max_wait_ms, settings.fetch_min_bytes)
    deliver_records_without_a_race_per_record()
    resume_fetching_when_a_buffer_drains()
    kafka = kafka_settings()
    settings.data_dir.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        datadir=str(settings.data_dir),  # faust makes only the last folder
        broker=[f"kafka://{server}" for server in kafka.bootstrap_list],
        broker_credentials=faust_credentials(kafka),
        broker_client_id=kafka.client_id,
        key_serializer="raw",
        value_serializer="raw",
        topic_allow_declare=False,  # topics are created by ops (or `returnrisk dev up`)
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        web_enabled=False,
        Monitor=PerEventQuietMonitor,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
    )


def keep_root_logger_at(app: faust.App, level: int) -> None:
    """faust's progress spinner sets the root logger to DEBUG at the warn level
    (faust/worker.py, `_setup_spinner_handler`), so every aiokafka debug call builds a log
    record; put it back once the worker has started."""

    async def reset() -> None:
        await asyncio.sleep(1.0)
        logging.getLogger().setLevel(level)

    app.task(reset)


class ScorerWorker(faust.Worker):
    """faust's worker, whose stop is bounded (`Lifecycle.stop`) and whose exit code says whether
    the worker failed (`Lifecycle.fatal`)."""

    def __init__(self, app: faust.App, lifecycle: Lifecycle, loglevel: int) -> None:
        super().__init__(app, loglevel=loglevel)
        self._lifecycle = lifecycle
        lifecycle.set_stop(self._stop_soon)

    def _stop_soon(self) -> None:
        """From the worker's loop or any thread: stop as SIGTERM does."""
        self.loop.call_soon_threadsafe(super()._schedule_shutdown, signal.SIGTERM)

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        """SIGTERM or SIGINT: the stop begins, with its deadline."""
        logger.warning("stopping on %s", signal.name)
        self._lifecycle.stop()

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        limit_repeated_lines(REPEATED_LINE_SOURCES, REPEATED_LINE_INTERVAL_S)


REPEATED_LINE_SOURCES = ("aiokafka", "kafka", "faust", "mode", "streams.flow", "redis")
REPEATED_LINE_INTERVAL_S = 5.0


def run_worker(app: faust.App, lifecycle: Lifecycle, loglevel: int) -> int:
    """Run the worker until it stops; its exit code."""
    worker = ScorerWorker(app, lifecycle, loglevel)
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    else:  # pragma: no cover - execute_from_commandline always exits
        code = 0
    return lifecycle.exit_code or code
