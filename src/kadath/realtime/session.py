"""One connected character: numbering and queueing its outbound frames, written by one task.

Senders never wait on a socket: ``send`` queues the frame and returns. A client that falls so
far behind that its queue fills is disconnected rather than allowed to hold memory forever."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import structlog

from kadath.domain.account import Account
from kadath.realtime.protocol import CLOSE_TOO_SLOW
from kadath.realtime.transport import Transport, TransportClosed
from kadath.services.messenger import Frame

log = structlog.get_logger(__name__)
QUEUE_LIMIT = 2000
_CLOSE = object()


def encode(frame: Frame) -> str:
    """A frame as compact JSON (a non-empty object), ready for ``send_encoded``."""
    if not frame:
        raise ValueError("a frame needs at least a type")
    return json.dumps(frame, separators=(",", ":"), default=str)


class Session:
    def __init__(self, transport: Transport, account: Account, player_id: uuid.UUID) -> None:
        self.transport = transport
        self.account = account
        self.player_id = player_id
        self.seq = 0
        self._queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_LIMIT)
        self._writer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self._close: tuple[int, str] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"writer-{self.player_id}")

    def send(self, frame: Frame) -> None:
        """Queue a frame; numbers it with this connection's next ``seq``."""
        self.send_encoded(encode(frame))

    def send_encoded(self, body: str) -> None:
        """Queue a frame already encoded by ``encode`` (so a frame sent to a whole room is
        serialised once); the ``seq`` is spliced in front."""
        if self._close is not None:
            return
        self.seq += 1
        try:
            self._queue.put_nowait(f'{{"seq":{self.seq},{body[1:]}')
        except asyncio.QueueFull:
            log.warning("client_too_slow", player_id=str(self.player_id))
            self.close(CLOSE_TOO_SLOW, "too slow to keep up")

    def close(self, code: int, reason: str) -> None:
        """Flush what is queued, then close with ``code``."""
        if self._close is None:
            self._close = (code, reason)
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(_CLOSE)
            if self._queue.full():
                self._drain_and_close()

    def _drain_and_close(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSE)

    async def _write(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is _CLOSE:
                    break
                await self.transport.send_text(item)
        except TransportClosed:
            pass
        finally:
            code, reason = self._close or (1000, "")
            with contextlib.suppress(Exception):
                await self.transport.close(code, reason)
            self.closed.set()

    async def stop(self) -> None:
        """Wait briefly for the writer to flush, then cancel it."""
        if self._writer is None:
            return
        if self._close is None:
            self.close(1000, "")
        done, _ = await asyncio.wait({self._writer}, timeout=2)
        if not done:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
