"""One connected character: numbering and queueing its outbound frames, written by one task.

Senders never wait on a socket: ``send`` queues the frame and returns. The writer takes
everything queued when it wakes (at most ``BATCH_LIMIT`` frames) and hands it to the transport
in one call. On a transport that can write without waiting (``DirectTransport``) an idle
writer is not woken: a loop callback, scheduled as the writer's wake-up would be, writes
what is queued at once, and wakes the writer only for what must wait (a full socket buffer)
or the close. A client that falls so far behind that ``QUEUE_LIMIT`` frames wait for it, or whose
socket takes no batch for ``send_timeout`` seconds, is disconnected (4408 if the socket still
takes a close frame, else the connection is aborted)."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable, Sequence

import structlog

from kadath.domain.account import Account
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import CLOSE_TOO_SLOW
from kadath.realtime.transport import (
    DirectTransport,
    QueueingTransport,
    Transport,
    TransportClosed,
)
from kadath.services.messenger import Frame

log = structlog.get_logger(__name__)
QUEUE_LIMIT = 2000
BATCH_LIMIT = 64  # frames handed to the transport at once (one WebSocket message at most)
SEND_TIMEOUT = 5.0
_CLOSE = object()


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
        self._queue: deque[Delivery | object] = deque()
        self._waiter: asyncio.Future[None] | None = None  # the idle writer waits on it
        self._writer: asyncio.Task[None] | None = None
        # The send timeout's watchdog: when the batch being sent was handed over, one timer
        # (re-armed at most once per send_timeout, not once per batch), and whether it fired.
        self._sending_since: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._timed_out = False
        self.closed = asyncio.Event()
        self._close: tuple[int, str] | None = None
        # A transport that queues itself (a tunnel) takes the frames when the writer is woken,
        # in the waker's turn: no writer task steps a frame.
        self._put = transport.put_frames if isinstance(transport, QueueingTransport) else None
        self._send_now: Callable[[Sequence[Delivery]], bool] | None = None
        self._flush_due = False  # a write from the loop is scheduled (DirectTransport)

    @property
    def backlog(self) -> int:
        """Frames queued and not yet handed to the transport."""
        return len(self._queue)

    def start(self) -> None:
        if isinstance(self.transport, DirectTransport):
            self._send_now = self.transport.send_frames_now
        self._writer = asyncio.create_task(self._write(), name=f"writer-{self.player_id}")

    def send(self, frame: Frame) -> None:
        """Queue a frame; numbers it with this connection's next ``seq``."""
        self.deliver(Outgoing(frame))

    def deliver(self, frame: Outgoing, *, wake: bool = True) -> None:
        """Queue a shared frame (one ``Outgoing`` may go to a whole room) with this
        connection's next ``seq``. With ``wake=False`` the writer is not woken: the caller
        promises to call ``wake`` soon (the Hub does, after the turn that fanned out)."""
        if self._close is not None:
            return
        if len(self._queue) >= QUEUE_LIMIT:
            log.warning("client_too_slow", player_id=str(self.player_id))
            self.close(CLOSE_TOO_SLOW, "too slow to keep up")
            return
        self.seq += 1
        self._queue.append((self.seq, frame))
        if wake:
            self.wake()

    def wake(self) -> None:
        """Let the writer take what is queued; or, for a transport that queues itself, while
        the writer waits idle and no close is asked for, hand it the queue now."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._close is None:
            if self._put is not None:
                if self._put_now(self._put):
                    return
            elif self._send_now is not None:
                if not self._flush_due:
                    self._flush_due = True
                    waiter.get_loop().call_soon(self._flush)
                return
        waiter.set_result(None)

    def _flush(self) -> None:
        """Write what is queued without waking the writer (``DirectTransport``); wake it
        for what the transport does not take at once, and for the close."""
        self._flush_due = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # the writer is up: it takes what is queued
        send_now = self._send_now
        queue = self._queue
        while queue and self._close is None and send_now is not None:
            # No close in the queue while _close is None: a short queue goes whole.
            if len(queue) <= BATCH_LIMIT:
                batch: list[Delivery] = list(queue)  # type: ignore[arg-type]
                queue.clear()
            else:
                batch, _ = self._take()
            if not send_now(batch):
                queue.extendleft(reversed(batch))
                break
        if queue:
            waiter.set_result(None)

    def _put_now(self, put: Callable[[Sequence[Delivery]], bool]) -> bool:
        """The queue to the transport at once, ``BATCH_LIMIT`` frames at a time; False if it
        took not all (the writer then sends the rest)."""
        queue = self._queue
        while queue:
            batch: list[Delivery] = []
            while queue and len(batch) < BATCH_LIMIT:
                batch.append(queue.popleft())  # type: ignore[arg-type]
            if not put(batch):
                queue.extendleft(reversed(batch))
                return False
        return True

    def close(self, code: int, reason: str) -> None:
        """Flush what is queued, then close with ``code`` (a queue already full is dropped
        first: its client is too slow to take it)."""
        if self._close is None:
            self._close = (code, reason)
            if len(self._queue) >= QUEUE_LIMIT:
                self._queue.clear()
            self._queue.append(_CLOSE)
            self.wake()

    def last_word(self, frame: Frame, code: int, reason: str) -> None:
        """Send ``frame`` next, ahead of anything still queued (which is dropped), then close:
        a shutdown notice must not wait behind a busy client's backlog."""
        if self._close is not None:
            return
        self._queue.clear()
        self.send(frame)
        self.close(code, reason)

    def _take(self) -> tuple[list[Delivery], bool]:
        """What the writer sends next (at most BATCH_LIMIT frames), and whether the close
        comes after it."""
        batch: list[Delivery] = []
        queue = self._queue
        while queue and len(batch) < BATCH_LIMIT:
            item = queue.popleft()
            if item is _CLOSE:
                return batch, True
            batch.append(item)  # type: ignore[arg-type]
        return batch, False

    async def _write(self) -> None:
        stuck = False
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._queue:
                    waiter = self._waiter = loop.create_future()
                    try:
                        await waiter
                    finally:
                        self._waiter = None
                    continue
                batch, closing = self._take()
                if batch:
                    self._sending_since = loop.time()
                    if self._watchdog is None:
                        self._watchdog = loop.call_at(
                            self._sending_since + self.send_timeout, self._watch
                        )
                    await self.transport.send_frames(batch)
                    self._sending_since = None
                if closing:
                    break
        except TransportClosed:
            pass
        except asyncio.CancelledError:
            stuck = True  # stopped while a send hung: nothing more will get through
            if not self._timed_out:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            log.warning("client_send_timeout", player_id=str(self.player_id))
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            await self._finish(abort=stuck)

    def _watch(self) -> None:
        """The watchdog's timer: a batch handed to the transport ``send_timeout`` seconds ago
        and not yet taken stops the writer (then the connection is aborted)."""
        self._watchdog = None
        since = self._sending_since
        if since is None or self._writer is None:
            return  # idle: the next send arms it again
        loop = asyncio.get_running_loop()
        due = since + self.send_timeout
        if loop.time() >= due:
            self._timed_out = True
            self._writer.cancel()
        else:
            self._watchdog = loop.call_at(due, self._watch)

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
