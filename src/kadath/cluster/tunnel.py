"""Tunnels: a player's connection arrives at one process and is served by another, over NATS
(``kadath serve --cluster``; docs/scaling.md, "Serving players across processes").

The process the client is connected to (the **relay**) reads the hello, finds the character's
zone and, when another process holds it, asks that zone's subject, ``kadath.zone.<id>.open``
(only the zone's holder subscribes), to open a tunnel. The holder answers by creating a
``TunnelTransport`` and running the connection handler on it exactly as for a WebSocket: the
hello is replayed to it, so authentication, the welcome and the session all happen there, and
the session numbers the frames (``seq``), so sequences stay gap-free whoever relays them.

Each tunnel has two subjects: ``kadath.tunnel.<id>.in`` (relay -> holder) and
``kadath.tunnel.<id>.out`` (holder -> relay). A message's first byte says what it is:

| Kind | Direction | Body |
| --- | --- | --- |
| ``T`` | in | one text frame from the client |
| ``X`` | in | the client went away |
| ``F`` | out | a batch of frames, each as the WebSocket sends it (``{"seq":n,…}``), one a line |
| ``B`` | out | the client asked for batches in its hello (``Transport.use_batches``) |
| ``C`` | out | close: JSON ``[code, reason]`` |
| ``A`` | out | abort |
| ``M`` | out | handed over (below): JSON ``{"zone", "read"}`` |
| ``H`` | both | heartbeat, every renewal period |

A side that hears nothing from the other for a whole lease period takes it as gone: the holder
ends the session as if the client had left; the relay's tunnel ends ``Lost`` (so does one whose
``open`` nobody answered), and the relay fails the client over (``kadath.cluster.failover``,
``ClusterNode._drive``): it keeps the connection, tells the client "the world shifts", answers
each command the lost holder was sent and did not answer with an error reply
(``Lost.unanswered``: the relay reads the command ids it sends and the ``re`` of the replies
it relays), and routes the character again until a process holds its zone, for at most
``failover_bound``; then it says "try again" and closes with 1013 (try again later). NATS
keeps the order of one connection's messages on a subject, so frames arrive in ``seq`` order.

**Hand-over.** When a command takes a relayed character into a zone its holder does not hold,
the holder takes the character out of play (saving it in its new room), flushes the session and
ends the tunnel with ``M`` instead of a close: the zone walked into, and how many of the
tunnel's text frames (the hello first) it read. The relay then routes again, replaying the hello:
to the new zone's holder through a new tunnel, or to itself when it holds that zone. The relay
numbers the frames it gives the client itself (the same numbers as the holder's on the first
tunnel), so ``seq`` runs on without a gap across hand-overs, and it drops the new holder's
``welcome`` (the client is already greeted; the room frame that follows it shows where it is).
What the client sent meanwhile is not lost: the relay keeps its last frames sent on the tunnel
(``KEEP_SENT``), and gives the new holder, after the hello, those the old one did not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kadath.cluster.failover import Lost, Owed
from kadath.cluster.leases import NATS_FAILURES
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import CLOSE_NORMAL, CLOSE_TRY_AGAIN_LATER
from kadath.realtime.transport import Transport, TransportClosed

log = structlog.get_logger(__name__)
REORGANISING = "The world is reorganising; try again in a moment."
OPEN_TIMEOUT = 5.0
KEEP_SENT = 256  # client frames a relay keeps, to replay those unread at a hand-over
# Bounds of a tunnel's two queues. A holder's inbox: client frames its handler has not read
# yet (a local socket would hold a flooding client back by TCP; a relay sending more is
# aborted). A relay's queue: the holder's frame batches its client has not taken (past it the
# client is aborted at once, as a session drops a client that reads nothing).
TUNNEL_INBOX = 256
RELAY_QUEUE = 512

TEXT, GONE, FRAMES, BATCHES, CLOSE, ABORT, HEARTBEAT = b"T", b"X", b"F", b"B", b"C", b"A", b"H"
MOVED = b"M"


def open_subject(zone: str) -> str:
    return f"kadath.zone.{zone}.open"


def in_subject(tunnel: str) -> str:
    return f"kadath.tunnel.{tunnel}.in"


def out_subject(tunnel: str) -> str:
    return f"kadath.tunnel.{tunnel}.out"


def encode_frames(batch: Sequence[Delivery]) -> bytes:
    return FRAMES + "\n".join([frame.text(seq) for seq, frame in batch]).encode()


def decode_frames(body: bytes) -> list[Delivery]:
    """The frames of an ``F`` message, each with its ``seq`` taken out again (the frame's own
    keys keep their order, so it encodes to the same text)."""
    batch: list[Delivery] = []
    for line in body.decode().split("\n"):
        frame: dict[str, Any] = json.loads(line)
        seq = int(frame.pop("seq"))
        batch.append((seq, Outgoing(frame)))
    return batch


class TunnelTransport:
    """The holder's end of a tunnel: a Transport for the connection handler, whose client is
    the relay's connection in another process."""

    def __init__(
        self, nc: Client, tunnel: str, remote: str, hello: str, heartbeat: float, silence: float
    ) -> None:
        self.remote = remote
        self.tunnel = tunnel
        self._nc = nc
        self._heartbeat, self._silence = heartbeat, silence
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(TUNNEL_INBOX)
        self._inbox.put_nowait(TEXT + hello.encode())  # replayed: the handler reads it first
        self._heard = time.monotonic()
        self._closed = False
        self.moving_to: str | None = None  # set by a hand-over: ``close`` then says ``M``
        self.read = 0  # text frames handed to the connection handler, the hello first
        self._sub: Subscription | None = None
        self._beat: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(in_subject(self.tunnel), cb=self._received)
        self._beat = asyncio.create_task(self._beats(), name=f"tunnel-{self.tunnel}")

    async def _received(self, msg: Msg) -> None:
        self._heard = time.monotonic()
        if msg.data != HEARTBEAT:
            self._deliver(msg.data)

    def _deliver(self, data: bytes) -> None:
        """Into the inbox; a relay that overfills it is aborted and the session ends."""
        try:
            self._inbox.put_nowait(data)
        except asyncio.QueueFull:
            if not self._closed:
                log.warning("tunnel_inbox_full", tunnel=self.tunnel, limit=TUNNEL_INBOX)
                self.abort()

    async def _beats(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._heartbeat)
            if time.monotonic() - self._heard >= self._silence:
                log.info("tunnel_relay_silent", tunnel=self.tunnel)
                self._deliver(GONE)
                return
            with contextlib.suppress(*NATS_FAILURES):
                await self._nc.publish(out_subject(self.tunnel), HEARTBEAT)

    async def receive_text(self) -> str:
        if self._closed:
            raise TransportClosed
        data = await self._inbox.get()
        if data[:1] == TEXT:
            self.read += 1
            return data[1:].decode("utf-8", errors="replace")
        await self.finish()
        raise TransportClosed

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        if self._closed:
            raise TransportClosed
        await self._send(encode_frames(batch))

    def use_batches(self) -> None:
        self._later(BATCHES)

    async def close(self, code: int, reason: str) -> None:
        if not self._closed:
            if self.moving_to is not None:
                moved = {"zone": self.moving_to, "read": self.read}
                await self._send(MOVED + json.dumps(moved).encode())
            else:
                await self._send(CLOSE + json.dumps([code, reason]).encode())
            await self.finish()

    def abort(self) -> None:
        if not self._closed:
            self._later(ABORT)
            self._closed = True

    async def finish(self) -> None:
        """Stop the heartbeat and stop listening (idempotent)."""
        self._closed = True
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    async def _send(self, data: bytes) -> None:
        try:
            await self._nc.publish(out_subject(self.tunnel), data)
        except NATS_FAILURES:
            self._closed = True
            raise TransportClosed from None

    def _later(self, data: bytes) -> None:
        """Publish from a synchronous method, in a task. Tasks start in the order they were
        made and nats-py's ``publish`` appends to the connection's buffer in its first step, so
        this goes out before anything a task made later publishes (``use_batches`` comes
        before the session's writer starts)."""
        task = asyncio.ensure_future(self._send_quietly(data))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send_quietly(self, data: bytes) -> None:
        with contextlib.suppress(TransportClosed):
            await self._send(data)


Serve = Callable[[Transport], Awaitable[None]]


async def serve_tunnel(transport: TunnelTransport, serve: Serve) -> None:
    """The holder's side: run the connection handler on the tunnel to its end."""
    try:
        await serve(transport)
    except Exception:
        log.exception("tunnel_failed", tunnel=transport.tunnel)
    finally:
        with contextlib.suppress(TransportClosed):
            await transport.close(CLOSE_NORMAL, "")
        await transport.finish()


async def reorganising(client: Transport, seq: int) -> None:
    """Tell the client to come back in a moment (no process holds its zone, or the one that
    did stopped answering) and close with 1013."""
    error = {"type": "error", "code": "unavailable", "text": REORGANISING}
    with contextlib.suppress(TransportClosed):
        await client.send_frames([(seq, Outgoing(error))])
        await client.close(CLOSE_TRY_AGAIN_LATER, REORGANISING)


LOST = object()  # the holder fell silent (``Tunnel._holder_to_client``)
Moved = tuple[str, list[str]]  # handed over: the zone walked into, the client frames unread


class Numbering:
    """The ``seq`` a client sees, across the sessions that serve it one after another (a
    hand-over starts a new one, numbered from 1): each frame gets the next number, and every
    ``welcome`` after the first is left out (the client is greeted once; the room frame that
    follows shows where it now is)."""

    def __init__(self) -> None:
        self.sent = 0  # the last seq the client was given
        self._greeted = False

    @property
    def greeted(self) -> bool:
        """Whether the client has had its welcome."""
        return self._greeted

    def number(self, batch: Sequence[Delivery]) -> list[Delivery]:
        out: list[Delivery] = []
        for _seq, frame in batch:
            if frame.frame.get("type") == "welcome":
                if self._greeted:
                    continue
                self._greeted = True
            self.sent += 1
            out.append((self.sent, frame))
        return out


class LocalTransport:
    """A client served by this very process, as the connection handler sees it: the hello
    (and after a hand-over, what the client sent that the last holder did not read) replayed
    first, the frames numbered by ``Numbering``. A hand-over (``moving_to`` set) ends the
    session without closing the client, which is then routed again."""

    def __init__(self, client: Transport, replay: list[str], numbering: Numbering) -> None:
        self._client, self._numbering = client, numbering
        self._replay = deque(replay)
        self.remote = client.remote
        self.moving_to: str | None = None

    def unread(self) -> list[str]:
        return list(self._replay)

    async def receive_text(self) -> str:
        if self._replay:
            return self._replay.popleft()
        return await self._client.receive_text()

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        out = self._numbering.number(batch)
        if out:
            await self._client.send_frames(out)

    def use_batches(self) -> None:
        self._client.use_batches()

    async def close(self, code: int, reason: str) -> None:
        if self.moving_to is None:
            await self._client.close(code, reason)

    def abort(self) -> None:
        self._client.abort()


class Tunnel:
    """The relay's side of one tunnel: the client's frames to the zone's holder, the
    holder's frames to the client, until either ends, the holder falls silent, or it hands the
    character over."""

    def __init__(
        self,
        nc: Client,
        client: Transport,
        replay: list[str],
        zone: str,
        numbering: Numbering,
        *,
        heartbeat: float,
        silence: float,
        send_timeout: float,
        max_line: int = 1000,
    ) -> None:
        self._nc, self._client, self.zone, self._numbering = nc, client, zone, numbering
        self._hello, self._replay = replay[0], replay[1:]
        self._heartbeat, self._silence, self._send_timeout = heartbeat, silence, send_timeout
        self.tunnel = uuid.uuid4().hex
        self._from_holder: asyncio.Queue[bytes] = asyncio.Queue(RELAY_QUEUE)
        self._overfull = False  # the client fell RELAY_QUEUE batches behind: aborted
        self._texts: deque[str] = deque(maxlen=KEEP_SENT)  # sent on this tunnel, the last ones
        self._count = 0  # text frames sent on this tunnel, the hello first
        self._owed = Owed(max_line)  # what the client sent on this tunnel, not answered yet

    async def run(self) -> Moved | Lost | None:
        """To the tunnel's end; where the character was handed over to, if it was; ``Lost``
        if the holder was (the relay then routes the character again)."""
        sub = await self._nc.subscribe(out_subject(self.tunnel), cb=self._received)
        try:
            if not await self._open():
                await self._publish(GONE)  # a holder whose answer came too late: let it go
                return Lost(opened=False)
            log.info("tunnel_relayed", tunnel=self.tunnel, zone=self.zone)
            for text in self._replay:
                await self._send_text(text)
            reading = asyncio.create_task(self._client_to_holder())
            beating = asyncio.create_task(self._heartbeats())
            writing = asyncio.create_task(self._holder_to_client())
            try:
                await asyncio.wait([reading, writing], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reading, beating, writing):
                    task.cancel()
                await asyncio.gather(reading, beating, writing, return_exceptions=True)
                await self._publish(GONE)
            ended = writing.done() and not writing.cancelled() and writing.exception() is None
            outcome = writing.result() if ended else None
            if outcome is None:
                return None
            if outcome is LOST:
                log.warning("tunnel_holder_silent", tunnel=self.tunnel, zone=self.zone)
                return Lost(True, tuple(self._owed.ids), self._owed.pings)
            assert isinstance(outcome, tuple)
            zone, read = outcome
            unread = list(self._texts)[max(0, read - (self._count - len(self._texts))) :]
            log.info("tunnel_handed_over", tunnel=self.tunnel, zone=self.zone, to=zone)
            return zone, unread
        finally:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    async def _received(self, msg: Msg) -> None:
        try:
            self._from_holder.put_nowait(msg.data)
        except asyncio.QueueFull:
            if not self._overfull:
                self._overfull = True
                log.warning("tunnel_client_behind", tunnel=self.tunnel, limit=RELAY_QUEUE)
                self._client.abort()

    async def _open(self) -> bool:
        self._texts.append(self._hello)
        self._count = 1
        request = {"tunnel": self.tunnel, "remote": self._client.remote, "hello": self._hello}
        try:
            reply = await self._nc.request(
                open_subject(self.zone), json.dumps(request).encode(), timeout=OPEN_TIMEOUT
            )
            answer = json.loads(reply.data)
        except (*NATS_FAILURES, nats.errors.NoRespondersError, ValueError) as exc:
            log.info("tunnel_refused", zone=self.zone, error=repr(exc))
            return False
        return isinstance(answer, dict) and answer.get("ok") is True

    async def _client_to_holder(self) -> None:
        while True:
            try:
                text = await self._client.receive_text()
            except TransportClosed:
                return
            await self._send_text(text)

    async def _send_text(self, text: str) -> None:
        self._texts.append(text)
        self._count += 1
        self._owed.ask(text)
        await self._publish(TEXT + text.encode())

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            await self._publish(HEARTBEAT)

    async def _holder_to_client(self) -> tuple[str, int] | object | None:
        """Until the tunnel ends: if handed over, the zone and how many of the tunnel's text
        frames the holder read; ``LOST`` if the holder fell silent; else None."""
        client = self._client
        while not self._overfull:
            try:
                data = await asyncio.wait_for(self._from_holder.get(), self._silence)
            except TimeoutError:
                return LOST
            kind = data[:1]
            try:
                if kind == FRAMES:
                    decoded = decode_frames(data[1:])
                    self._owed.answered(decoded)
                    batch = self._numbering.number(decoded)
                    if batch:
                        await asyncio.wait_for(client.send_frames(batch), self._send_timeout)
                elif kind == BATCHES:
                    client.use_batches()
                elif kind == MOVED:
                    moved = json.loads(data[1:])
                    return str(moved["zone"]), int(moved["read"])
                elif kind == CLOSE:
                    code, reason = json.loads(data[1:])
                    await client.close(int(code), str(reason))
                    return None
                elif kind == ABORT:
                    client.abort()
                    return None
            except TimeoutError:
                client.abort()  # a client that takes nothing (the holder's session cannot see)
                return None
            except TransportClosed:
                return None
        return None  # aborted: the client fell too far behind

    async def _publish(self, data: bytes) -> None:
        with contextlib.suppress(*NATS_FAILURES):
            await self._nc.publish(in_subject(self.tunnel), data)
