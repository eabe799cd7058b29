"""A session on a transport that can write at once (``DirectTransport``) writes from a loop
callback instead of waking its writer: the frames queued in one turn still go as one batch,
in ``seq`` order; what the transport does not take at once goes through the writer, nothing
lost or sent twice; the close still comes last."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import Any

from kadath.domain.account import Account
from kadath.realtime.outgoing import Delivery
from kadath.realtime.session import Session
from kadath.realtime.transport import DirectTransport, TransportClosed

ACCOUNT = Account(uuid.uuid4(), "someone", "x")


class Direct:
    def __init__(self) -> None:
        self.remote = "127.0.0.1:1"
        self.taking = True  # whether send_frames_now takes a batch
        self.writes: list[tuple[str, list[int]]] = []  # (how, the seqs)
        self.closed: tuple[int, str] | None = None

    async def receive_text(self) -> str:
        raise TransportClosed

    def send_frames_now(self, batch: Sequence[Delivery]) -> bool:
        if not self.taking:
            return False
        self.writes.append(("now", [json.loads(f.text(seq))["seq"] for seq, f in batch]))
        return True

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        await asyncio.sleep(0)
        self.writes.append(("writer", [json.loads(f.text(seq))["seq"] for seq, f in batch]))

    def use_batches(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        pass


def frame(n: int) -> dict[str, Any]:
    return {"type": "message", "text": str(n)}


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_turns_frames_are_written_at_once_as_one_batch() -> None:
    transport = Direct()
    assert isinstance(transport, DirectTransport)
    session = Session(transport, ACCOUNT, uuid.uuid4())
    session.start()
    await settle()
    for n in range(3):
        session.send(frame(n))
    await settle()
    session.send(frame(3))
    await settle()
    assert transport.writes == [("now", [1, 2, 3]), ("now", [4])]
    await session.stop()
    assert transport.closed == (1000, "")


async def test_what_is_not_taken_at_once_goes_through_the_writer_in_order() -> None:
    transport = Direct()
    session = Session(transport, ACCOUNT, uuid.uuid4())
    session.start()
    await settle()
    session.send(frame(1))
    await settle()
    transport.taking = False
    session.send(frame(2))
    session.send(frame(3))
    await settle()
    transport.taking = True
    session.send(frame(4))
    await settle()
    session.send(frame(5))
    session.close(4000, "bye")
    await asyncio.wait_for(session.closed.wait(), 1)
    assert transport.writes == [
        ("now", [1]),
        ("writer", [2, 3]),
        ("now", [4]),
        ("writer", [5]),
    ]
    assert transport.closed == (4000, "bye")
