"""faust's per-record delivery, without a race per record, still abandoned by a rebalance."""

from __future__ import annotations

import asyncio

from mode import Service

from streams.faust_app import wait_for_delivery


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
