"""One connected character: numbering and queueing its outbound frames, written by one task.

Senders never wait on a socket: ``send`` queues the frame and returns. A client that falls so
far behind that its queue fills, or whose socket takes no frame for ``send_timeout`` seconds, is
disconnected (4408 if the socket still takes a close frame, else the connection is aborted)."""

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
SEND_TIMEOUT = 5.0
_CLOSE = object()


def encode(frame: Frame) -> str:
    """A frame as compact JSON (a non-empty object), ready for ``send_encoded``."""
    if not frame:
        raise ValueError("a frame needs at least a type")
    return json.dumps(frame, separators=(",", ":"), default=str)


class Session:
    def __init__(
        self,
        transport: Transport,
        account: Account,
        player_id: uuid.UUID,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.transport = transport
        self.send_timeout = send_timeout
        self.account = account
        self.player_id = player_id
        self.seq = 0
        self._queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_LIMIT)
        self._writer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self._close: tuple[int, str] | None = None

    @property
    def backlog(self) -> int:
        """Frames queued and not yet written to the socket."""
        return self._queue.qsize()

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

    def last_word(self, frame: Frame, code: int, reason: str) -> None:
        """Send ``frame`` next, ahead of anything still queued (which is dropped), then close:
        a shutdown notice must not wait behind a busy client's backlog."""
        if self._close is not None:
            return
        while not self._queue.empty():
            self._queue.get_nowait()
        self.send(frame)
        self.close(code, reason)

    def _drain_and_close(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSE)

    async def _write(self) -> None:
        stuck = False
        try:
            while True:
                item = await self._queue.get()
                if item is _CLOSE:
                    break
                async with asyncio.timeout(self.send_timeout):
                    await self.transport.send_text(item)
        except TransportClosed:
            pass
        except TimeoutError:
            log.warning("client_send_timeout", player_id=str(self.player_id))
            stuck = True
        except asyncio.CancelledError:
            stuck = True  # stopped while a send hung: nothing more will get through
            raise
        finally:
            await self._finish(abort=stuck)

    async def _finish(self, *, abort: bool) -> None:
        """Close with the code asked for, or abort when the socket takes no close frame."""
        code, reason = self._close or (
            (CLOSE_TOO_SLOW, "too slow to keep up") if abort else (1000, "")
        )
        self._close = (code, reason)
        try:
            if not abort:
                async with asyncio.timeout(self.send_timeout):
                    await self.transport.close(code, reason)
        except TimeoutError:
            abort = True
        except Exception as exc:  # the peer is gone or going: nothing left to tell it
            log.debug("close_failed", player_id=str(self.player_id), error=repr(exc))
        finally:
            if abort:
                self.transport.abort()
            self.closed.set()

    async def stop(self, within: float | None = None) -> None:
        """Wait ``within`` seconds (default twice the send timeout) for the writer to flush
        and close; then abort the connection."""
        if self._writer is None:
            return
        if self._close is None:
            self.close(1000, "")
        wait = 2 * self.send_timeout if within is None else within
        done, _ = await asyncio.wait({self._writer}, timeout=wait)
        if not done:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self.transport.abort()
