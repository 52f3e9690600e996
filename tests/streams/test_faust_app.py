"""What streams.faust_app changes in faust: the fetch limits of its consumer; per-record delivery
without a race per record, still abandoned by a rebalance; fetching again as soon as a paused
partition resumes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service

from streams.faust_app import (
    on_buffer_drop_resume_fetching,
    set_fetch_limits,
    wait_for_delivery,
    wait_next_records_or_a_resume,
    wake_waiting_fetches,
)
from streams.settings import KafkaSettings


def test_the_consumer_faust_builds_fetches_with_the_configured_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faust passes neither limit through (its wait is a hard-coded 1,500 ms)."""
    thread_class = faust_aiokafka.AIOKafkaConsumerThread
    monkeypatch.setattr(
        thread_class, "_create_worker_consumer", thread_class._create_worker_consumer
    )
    set_fetch_limits(max_wait_ms=40, min_bytes=12_345)

    async def scenario() -> None:
        app = faust.App("fetch-limits", broker="kafka://127.0.0.1:1")
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            assert (consumer._fetch_max_wait_ms, consumer._fetch_min_bytes) == (40, 12_345)
        finally:
            await consumer.stop()

    asyncio.run(scenario())


class _Draining(Service):
    """Stands in for faust's consumer: a mode Service with its `suspend_flow` event."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


def test_a_delivery_that_does_not_wait_is_delivered_without_the_race() -> None:
    async def scenario() -> None:
        consumer = _Draining()
        delivered: list[str] = []

        async def deliver() -> str:
            delivered.append("record")
            return "delivered"

        suspended = consumer.suspend_flow.wait()
        result = await wait_for_delivery(consumer, deliver(), suspended)
        assert delivered == ["record"]
        assert result.results == ["delivered"] and not result.stopped
        assert suspended.cr_frame is None  # closed, so never reported as "never awaited"

    asyncio.run(scenario())


def test_a_delivery_that_waits_is_abandoned_when_a_rebalance_suspends_the_flow() -> None:
    async def scenario() -> None:
        consumer = _Draining()
        buffer_has_room = asyncio.Event()  # a full stream buffer: never drains here
        abandoned: list[bool] = []

        async def deliver() -> None:
            try:
                await buffer_has_room.wait()
            except asyncio.CancelledError:
                abandoned.append(True)
                raise

        waiting = asyncio.ensure_future(
            wait_for_delivery(consumer, deliver(), consumer.suspend_flow.wait())
        )
        await asyncio.sleep(0.05)
        assert not waiting.done()
        consumer.suspend_flow.set()
        await asyncio.wait_for(waiting, timeout=2)
        await asyncio.sleep(0)
        assert abandoned == [True]

    asyncio.run(scenario())


def test_a_delivery_that_waits_is_delivered_once_the_buffer_drains() -> None:
    async def scenario() -> None:
        consumer = _Draining()
        buffer_has_room = asyncio.Event()
        delivered: list[str] = []

        async def deliver() -> None:
            await buffer_has_room.wait()
            delivered.append("record")

        waiting = asyncio.ensure_future(
            wait_for_delivery(consumer, deliver(), consumer.suspend_flow.wait())
        )
        await asyncio.sleep(0.05)
        buffer_has_room.set()
        await asyncio.wait_for(waiting, timeout=2)
        assert delivered == ["record"]

    asyncio.run(scenario())


# fetching again when a paused partition resumes ------------------------------------------

TP = TopicPartition("orders", 0)


class _Fetcher:
    """aiokafka's `Fetcher` as far as waking its waiters goes; notes which thread woke them."""

    def __init__(self) -> None:
        self._fetch_waiters: set[asyncio.Future[None]] = set()
        self.woken_in: list[str] = []

    def _notify(self, future: asyncio.Future[None]) -> None:
        self.woken_in.append(threading.current_thread().name)
        if not future.done():
            future.set_result(None)


class _ConsumerThread:
    """faust's consumer thread: its own event loop, running in another thread."""

    def __init__(self) -> None:
        self.thread_loop = asyncio.new_event_loop()
        self._consumer: Any = None
        self._thread = threading.Thread(target=self.thread_loop.run_forever, daemon=True)
        self._thread.start()
        self.name = self._thread.name

    def stop(self) -> None:
        self.thread_loop.call_soon_threadsafe(self.thread_loop.stop)
        self._thread.join(timeout=5)


class _App:
    client_only = False


class _PausingConsumer(Service):
    """faust's consumer as its fetch loop and flow control use it: the live set of partitions
    to fetch, the paused ones, and what a fetch returns."""

    def __init__(self, thread: _ConsumerThread) -> None:
        super().__init__()
        self.app = _App()
        self.flow_active = True
        self.can_resume_flow = asyncio.Event()
        self.not_waiting_next_records = asyncio.Event()
        self._active_partitions: set[TopicPartition] = set()
        self._buffered_partitions = {TP}  # its stream's buffer filled: paused
        self._thread = thread
        self.fetched_for: list[set[TopicPartition]] = []

    def _get_active_partitions(self) -> set[TopicPartition]:
        return self._active_partitions

    async def _getmany(self, active_partitions: set[TopicPartition], timeout: float) -> Any:
        self.fetched_for.append(set(active_partitions))
        return {tp: [f"record of {tp.partition}"] for tp in active_partitions}


@pytest.fixture
def consumer_thread() -> Iterator[_ConsumerThread]:
    thread = _ConsumerThread()
    yield thread
    thread.stop()


def test_with_every_partition_paused_a_resume_fetches_at_once(
    consumer_thread: _ConsumerThread,
) -> None:
    """faust slept a fixed second here and then returned nothing, resumed or not."""

    async def scenario() -> None:
        consumer = _PausingConsumer(consumer_thread)
        waiting = asyncio.ensure_future(wait_next_records_or_a_resume(consumer, 30.0))
        await asyncio.sleep(0.05)
        assert not waiting.done() and consumer.fetched_for == []
        on_buffer_drop_resume_fetching(consumer, TP)  # the stream's buffer drained
        records, active = await waiting
        assert records == {TP: ["record of 0"]} and active == {TP}
        assert consumer.fetched_for == [{TP}]

    asyncio.run(scenario())


def test_with_every_partition_paused_and_none_resumed_nothing_is_fetched(
    consumer_thread: _ConsumerThread,
) -> None:
    async def scenario() -> None:
        consumer = _PausingConsumer(consumer_thread)
        assert await wait_next_records_or_a_resume(consumer, 0.05) == ({}, set())
        assert consumer.fetched_for == []

    asyncio.run(scenario())


def test_a_resume_wakes_a_fetch_waiting_in_the_consumer_thread(
    consumer_thread: _ConsumerThread,
) -> None:
    """A fetch already waiting on the partitions still active (caught up, no new data) is
    woken, in the consumer thread's loop, so it looks again and finds the resumed partition's
    records."""

    async def wait_for_data(fetcher: _Fetcher) -> str:
        waiter = asyncio.get_running_loop().create_future()
        fetcher._fetch_waiters.add(waiter)
        await waiter
        return "woken"

    async def scenario() -> None:
        consumer = _PausingConsumer(consumer_thread)
        fetcher = _Fetcher()
        consumer_thread._consumer = SimpleNamespace(_fetcher=fetcher)  # aiokafka's consumer
        fetch = asyncio.run_coroutine_threadsafe(
            wait_for_data(fetcher), consumer_thread.thread_loop
        )
        while not fetcher._fetch_waiters:
            await asyncio.sleep(0.01)
        on_buffer_drop_resume_fetching(consumer, TP)
        assert fetch.result(timeout=5) == "woken"
        assert fetcher.woken_in == [consumer_thread.name]
        assert consumer._active_partitions == {TP} and not consumer._buffered_partitions

    asyncio.run(scenario())


@pytest.mark.integration
def test_waking_an_aiokafka_fetch_returns_records_of_a_partition_it_was_given_while_waiting(
    kafka_settings: KafkaSettings, topic_factory: Callable[..., str]
) -> None:
    """Against the real broker and aiokafka's own `Fetcher`: a `fetched_records` call waiting
    on a caught-up partition does not see records already fetched for a partition added to its
    (live) set until it is woken; then it returns them."""
    topic = topic_factory("resume", partitions=2)
    busy, caught_up = TopicPartition(topic, 0), TopicPartition(topic, 1)

    async def scenario() -> None:
        producer = AIOKafkaProducer(**kafka_settings.aiokafka_options())
        await producer.start()
        try:
            for i in range(50):
                await producer.send(topic, f"{i}".encode(), partition=busy.partition)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            **kafka_settings.aiokafka_options(), enable_auto_commit=False, fetch_max_wait_ms=50
        )
        await consumer.start()
        try:
            consumer.assign([busy, caught_up])
            await consumer.seek_to_beginning(busy, caught_up)
            fetcher = consumer._fetcher
            active = {caught_up}  # faust passes its live set of active partitions
            fetching = asyncio.ensure_future(fetcher.fetched_records(active, timeout=10.0))
            for _ in range(200):  # the busy partition's records arrive in the fetcher
                if busy in fetcher._records:
                    break
                await asyncio.sleep(0.05)
            assert busy in fetcher._records and not fetching.done()
            active.add(busy)  # its stream's buffer drained: resumed
            await asyncio.sleep(0.3)  # several fetch rounds: nothing wakes the call by itself
            assert not fetching.done()
            wake_waiting_fetches(fetcher)
            records = await fetching
            assert [r.value for r in records[busy]] == [f"{i}".encode() for i in range(50)]
        finally:
            await consumer.stop()

    asyncio.run(scenario())
