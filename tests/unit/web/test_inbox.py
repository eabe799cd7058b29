"""The inbox uvicorn's WebSocket protocol queues received messages in (``Inbox``): what it
needs of an ``asyncio.Queue``, FIFO, readers waiting in turn, cancellation losing nothing."""

from __future__ import annotations

import asyncio

from kadath.web.websocket_protocol import Inbox


async def test_messages_come_out_in_the_order_they_went_in() -> None:
    inbox = Inbox()
    assert inbox.empty()
    for n in range(3):
        inbox.put_nowait(n)
    assert not inbox.empty()
    assert [await inbox.get() for _ in range(3)] == [0, 1, 2]
    assert inbox.empty()


async def test_a_reader_waits_until_a_message_arrives() -> None:
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait("connect")
    assert await asyncio.wait_for(reader, 1) == "connect"


async def test_waiting_readers_are_served_in_turn() -> None:
    inbox = Inbox()
    readers = [asyncio.create_task(inbox.get()) for _ in range(3)]
    await asyncio.sleep(0)
    for n in range(3):
        inbox.put_nowait(n)
    assert await asyncio.wait_for(asyncio.gather(*readers), 1) == [0, 1, 2]


async def test_a_cancelled_reader_loses_no_message() -> None:
    inbox = Inbox()
    cancelled = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    inbox.put_nowait("after")
    assert await asyncio.wait_for(inbox.get(), 1) == "after"


async def test_a_reader_woken_then_cancelled_passes_its_turn_on() -> None:
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("only")  # wakes the first reader...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "only"
    assert first.cancelled()
