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
| ``H`` | both | heartbeat, every renewal period |

A side that hears nothing from the other for a whole lease period takes it as gone: the holder
ends the session as if the client had left; the relay tells the client "the world is
reorganising, try again" and closes with 1013 (try again later). NATS keeps the order of one
connection's messages on a subject, so frames arrive in ``seq`` order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kadath.cluster.leases import NATS_FAILURES
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import CLOSE_NORMAL, CLOSE_TRY_AGAIN_LATER
from kadath.realtime.transport import Transport, TransportClosed

log = structlog.get_logger(__name__)
REORGANISING = "The world is reorganising; try again in a moment."
OPEN_TIMEOUT = 5.0

TEXT, GONE, FRAMES, BATCHES, CLOSE, ABORT, HEARTBEAT = b"T", b"X", b"F", b"B", b"C", b"A", b"H"


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
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._inbox.put_nowait(TEXT + hello.encode())  # replayed: the handler reads it first
        self._heard = time.monotonic()
        self._closed = False
        self._sub: Subscription | None = None
        self._beat: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(in_subject(self.tunnel), cb=self._received)
        self._beat = asyncio.create_task(self._beats(), name=f"tunnel-{self.tunnel}")

    async def _received(self, msg: Msg) -> None:
        self._heard = time.monotonic()
        if msg.data != HEARTBEAT:
            self._inbox.put_nowait(msg.data)

    async def _beats(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._heartbeat)
            if time.monotonic() - self._heard >= self._silence:
                log.info("tunnel_relay_silent", tunnel=self.tunnel)
                self._inbox.put_nowait(GONE)
                return
            with contextlib.suppress(*NATS_FAILURES):
                await self._nc.publish(out_subject(self.tunnel), HEARTBEAT)

    async def receive_text(self) -> str:
        if self._closed:
            raise TransportClosed
        data = await self._inbox.get()
        if data[:1] == TEXT:
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
        """Publish from a synchronous method; in order with what is published after it,
        since nats-py's ``publish`` only appends to the connection's buffer before awaiting."""
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


class Relay:
    """The relay's side of one tunnel: the client's frames to the holder, the holder's frames
    to the client, until either ends or the holder falls silent."""

    def __init__(
        self,
        nc: Client,
        client: Transport,
        hello: str,
        zone: str,
        *,
        heartbeat: float,
        silence: float,
        send_timeout: float,
    ) -> None:
        self._nc, self._client, self._hello, self.zone = nc, client, hello, zone
        self._heartbeat, self._silence, self._send_timeout = heartbeat, silence, send_timeout
        self.tunnel = uuid.uuid4().hex
        self._from_holder: asyncio.Queue[bytes] = asyncio.Queue()
        self._last_seq = 0

    async def run(self) -> None:
        sub = await self._nc.subscribe(out_subject(self.tunnel), cb=self._received)
        try:
            if not await self._open():
                await reorganising(self._client, 1)
                return
            log.info("tunnel_relayed", tunnel=self.tunnel, zone=self.zone)
            tasks = [
                asyncio.create_task(self._client_to_holder()),
                asyncio.create_task(self._heartbeats()),
                asyncio.create_task(self._holder_to_client()),
            ]
            try:
                await asyncio.wait([tasks[0], tasks[2]], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._publish(GONE)
        finally:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    async def _received(self, msg: Msg) -> None:
        self._from_holder.put_nowait(msg.data)

    async def _open(self) -> bool:
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
            await self._publish(TEXT + text.encode())

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            await self._publish(HEARTBEAT)

    async def _holder_to_client(self) -> None:
        client = self._client
        while True:
            try:
                data = await asyncio.wait_for(self._from_holder.get(), self._silence)
            except TimeoutError:
                log.warning("tunnel_holder_silent", tunnel=self.tunnel, zone=self.zone)
                await reorganising(client, self._last_seq + 1)
                return
            kind = data[:1]
            try:
                if kind == FRAMES:
                    batch = decode_frames(data[1:])
                    self._last_seq = batch[-1][0]
                    await asyncio.wait_for(client.send_frames(batch), self._send_timeout)
                elif kind == BATCHES:
                    client.use_batches()
                elif kind == CLOSE:
                    code, reason = json.loads(data[1:])
                    await client.close(int(code), str(reason))
                    return
                elif kind == ABORT:
                    client.abort()
                    return
            except TimeoutError:
                client.abort()  # a client that takes nothing (the holder's session cannot see)
                return
            except TransportClosed:
                return

    async def _publish(self, data: bytes) -> None:
        with contextlib.suppress(*NATS_FAILURES):
            await self._nc.publish(in_subject(self.tunnel), data)
