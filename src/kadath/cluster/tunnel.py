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
| ``T`` | in | one text frame from the client: ``<n>\n<text>``, ``n`` its number (below) |
| ``K`` | out | acknowledged: the holder took every client frame up to ``<n>`` (below) |
| ``G`` | out | a gap: the holder took every client frame up to ``<n>``, then a later one came |
| ``X`` | in | the client went away |
| ``F`` | out | a batch of frames, one a line: ``<kind>\t<body>`` (``encode_frames``) |
| ``B`` | out | the client asked for batches in its hello (``Transport.use_batches``) |
| ``C`` | out | close: JSON ``[code, reason]`` |
| ``A`` | out | abort |
| ``M`` | out | handed over (below): JSON ``{"zone", "read"}`` |
| ``H`` | both | heartbeat, every renewal period in which the side sent nothing else |

**Gathered.** The relay names in each ``open`` its process's ``Demux`` subject,
``kadath.relay.<id>.out``; the holder then sends a tunnel's ``out`` messages there, not on the
tunnel's own subject (heartbeats aside): its ``Outbox`` puts every message one loop turn makes
for that relay, whatever the tunnel, into one NATS message (records ``<tunnel> <size>\n`` and
the message), so a ``say`` heard by twenty players relayed by one process is one NATS message,
not twenty. The relay's ``Demux`` hands each record to its tunnel, in order.

A side that hears nothing from the other for a whole lease period takes it as gone: the holder
ends the session as if the client had left; the relay's tunnel ends ``Lost`` (so does one whose
``open`` nobody answered), and the relay fails the client over (``kadath.cluster.failover``,
``ClusterNode._drive``): it keeps the connection, tells the client "the world shifts", answers
each command the lost holder was sent and did not answer with an error reply
(``Lost.unanswered``: the relay reads the command ids it sends and the ``re`` of the replies
it relays), and routes the character again until a process holds its zone, for at most
``failover_bound``; then it says "try again" and closes with 1013 (try again later). NATS
keeps the order of one connection's messages on a subject, so frames arrive in ``seq`` order.

**Numbered, acknowledged, resent.** NATS core delivers at most once: a client frame lost on
the way (a NATS reconnect drops what was in flight) would leave its command unanswered while
both sides still hear each other's heartbeats. So the relay numbers the client frames of a
tunnel (``T<n>``, the hello being 1, the first ``T`` 2, as ``read`` counts them) and keeps
those not yet acknowledged (at most ``UNACKED``; a client that sends more without the holder
taking them is aborted, as a flooding one is). The holder takes each number once and in order:
the next one goes to its inbox, a number it already took is acknowledged again and dropped (a
duplicate never runs twice), one past a gap is dropped until the resend fills the gap (and the
first past each gap is answered at once with ``G<n>``, on which the relay resends at once). It
acknowledges cumulatively (``K<n>``): in front of the next frames it sends that relay (in the
same NATS message when gathered: a command's reply carries its acknowledgement), else at its
next heartbeat tick instead of the heartbeat. At each of its heartbeat ticks the relay sends
again, in order, every frame still unacknowledged whose last send is ``RESEND_PERIODS``
heartbeat periods old. A holder that acknowledges nothing for ``silence`` (a lease) while
frames are outstanding is lost as a silent one is (``Lost``, each command it did not answer
owed an error reply). The holder's frames to the relay are not numbered: one lost there is
lost (docs/scaling.md, "Fault model").

**What the relay does to a frame.** Nothing it need not: a frame's body is the holder's
encoding (``Outgoing.body``, the JSON less its ``{"seq":n,``), passed on as it is
(``Relayed``: the relay's ``seq`` goes in front, as for any frame); the holder tags the few
frames the relay must see into (a welcome, a reply or error with the id it answers, a pong),
so the relay decodes no frame's JSON (a telnet client's rendering decodes it when it wants it);
a WebSocket client is handed the texts themselves (``Numbering.texts``). What the holder sent
while the client was being written to goes to it in one write (``Tunnel._holder_to_client``).
On the holder, a session on a gathering tunnel hands its frames to the ``Outbox`` in the turn
that wakes it (``QueueingTransport``), not through its writer task.

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
import weakref
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
from kadath.cluster.placement import Placed, placed_at
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import CLOSE_NORMAL, CLOSE_TRY_AGAIN_LATER
from kadath.realtime.session import BATCH_LIMIT
from kadath.realtime.transport import (
    DirectTransport,
    TextTransport,
    Transport,
    TransportClosed,
)

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
# Client frames a relay keeps until the holder acknowledges them (resent meanwhile), and how
# many heartbeat periods old a frame's last send is before it is sent again (the holder
# acknowledges within one period: with its frames, or at its heartbeat tick).
UNACKED = TUNNEL_INBOX
RESEND_PERIODS = 2

TEXT, GONE, FRAMES, BATCHES, CLOSE, ABORT, HEARTBEAT = b"T", b"X", b"F", b"B", b"C", b"A", b"H"
MOVED, ACK, GAP = b"M", b"K", b"G"


GATHERED = 256 * 1024  # bytes an Outbox gathers for one relay before it publishes at once


def open_subject(zone: str) -> str:
    return f"kadath.zone.{zone}.open"


def in_subject(tunnel: str) -> str:
    return f"kadath.tunnel.{tunnel}.in"


def out_subject(tunnel: str) -> str:
    return f"kadath.tunnel.{tunnel}.out"


# What the relay needs to know of a frame without decoding it (``Relayed.kind``): a welcome
# (``Numbering`` greets once), a reply or error (``Owed``: its ``re`` follows, as JSON), a pong.
WELCOME, ANSWER, PONG = "w", "r", "p"


def encode_frames(batch: Sequence[Delivery]) -> bytes:
    """An ``F`` message: one line a frame, ``<kind>\t<body>``, the body as the WebSocket would
    send it without its ``{"seq":n,`` (``Outgoing.body``; compact JSON holds no raw newline or
    tab), the kind what the relay needs of it (``WELCOME``, ``ANSWER`` + the ``re`` as JSON,
    ``PONG``, or nothing). The holder's ``seq`` is not sent: the relay numbers the frames."""
    return FRAMES + b"\n".join([frame_line(out) for _seq, out in batch])


def frame_line(out: Outgoing) -> bytes:
    """A frame's line in an ``F`` message, made once per frame whatever the number of tunnels
    it goes down (kept with the frame, ``Outgoing.rendering``)."""
    return out.rendering(_LINE, lambda frame: _line(frame, out.body))


_LINE = "tunnel-line"


def _line(frame: dict[str, Any], body: str) -> bytes:
    kind = frame.get("type")
    if kind == "reply" or kind == "error":
        re = frame.get("re")
        tag = ANSWER + json.dumps(re) if isinstance(re, str) else ""
    elif kind == "welcome":
        tag = WELCOME
    elif kind == "pong":
        tag = PONG
    else:
        tag = ""
    return f"{tag}\t{body}".encode()


class Relayed(Outgoing):
    """A frame as the relay passes it on: the holder's encoding kept (``Outgoing.body``), so a
    WebSocket client gets it without a decode and an encode; ``frame`` (a telnet client's
    rendering wants it) is decoded on first use only."""

    __slots__ = ("_decoded", "kind", "re")

    def __init__(self, body: str, kind: str, re: str | None) -> None:
        self._body, self._renderings = body, None
        self._decoded: dict[str, Any] | None = None
        self.kind, self.re = kind, re

    @property
    def frame(self) -> dict[str, Any]:
        if self._decoded is None:
            self._decoded = json.loads("{" + self.body)
        return self._decoded

    @frame.setter
    def frame(self, frame: dict[str, Any]) -> None:
        self._decoded = frame


def decode_frames(body: bytes) -> list[tuple[int, Relayed]]:
    """The frames of an ``F`` message (``encode_frames``), each with ``seq`` 0 (to be
    numbered by ``Numbering``); each encodes to the text the holder would have sent."""
    batch: list[tuple[int, Relayed]] = []
    for line in body.decode().split("\n"):
        tag, _, text = line.partition("\t")
        if tag[:1] == ANSWER:
            re = json.loads(tag[1:])
            batch.append((0, Relayed(text, ANSWER, re if isinstance(re, str) else None)))
        else:
            batch.append((0, Relayed(text, tag, None)))
    return batch


class Outbox:
    """The holder's side of gathering: every tunnel message one loop turn makes for one relay
    (``Demux``), whichever tunnel it is for, goes out as one NATS message (a ``say`` heard by
    twenty relayed players is one message, not twenty). A record: ``<tunnel> <size>\n`` then
    the tunnel message. The messages of one tunnel keep their order (one list, one publisher);
    frames put for one tunnel one after the other become one ``F`` message."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        # By relay: (tunnel, a message, or the lines of an ``F`` message still growing)
        self._gathered: dict[str, list[tuple[str, bytes | list[bytes]]]] = {}
        self._sizes: dict[str, int] = {}
        self._due = False
        self._sends: set[asyncio.Task[None]] = set()

    def put(self, relay: str, tunnel: str, data: bytes) -> None:
        self._gathered.setdefault(relay, []).append((tunnel, data))
        self._added(relay, len(data))

    def put_frames(self, relay: str, tunnel: str, batch: Sequence[Delivery]) -> None:
        """Frames for ``tunnel``: added to the ``F`` message it was last put, if nothing
        else was put for this relay since."""
        lines = [frame_line(out) for _seq, out in batch]
        records = self._gathered.setdefault(relay, [])
        last = records[-1] if records else None
        if last is not None and last[0] == tunnel and isinstance(last[1], list):
            last[1].extend(lines)
        else:
            records.append((tunnel, lines))
        self._added(relay, sum(map(len, lines)) + len(lines))

    def _added(self, relay: str, size: int) -> None:
        size = self._sizes[relay] = self._sizes.get(relay, 0) + size
        if size >= GATHERED:  # under NATS's max_payload: out now
            self._publish(relay, self._gathered.pop(relay))
            del self._sizes[relay]
        elif not self._due:
            self._due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._due = False
        gathered, self._gathered, self._sizes = self._gathered, {}, {}
        for relay, records in gathered.items():
            self._publish(relay, records)

    def _publish(self, relay: str, records: list[tuple[str, bytes | list[bytes]]]) -> None:
        """In a task: they start in the order made, and ``publish`` appends to the
        connection's buffer in its first step, so messages leave in the order put."""
        parts: list[bytes] = []
        for tunnel, record in records:
            data = record if isinstance(record, bytes) else FRAMES + b"\n".join(record)
            parts.append(f"{tunnel} {len(data)}\n".encode())
            parts.append(data)
        task = asyncio.ensure_future(self._send(relay, b"".join(parts)))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, relay: str, body: bytes) -> None:
        try:
            await self._nc.publish(relay, body)
        except NATS_FAILURES as exc:
            log.warning("tunnel_outbox_failed", relay=relay, error=repr(exc))


class Demux:
    """The relay's side of gathering: one subscription for the process (per NATS
    connection), whose subject the relay names in each ``open``; each record goes to its
    tunnel (``Tunnel._take``), a record for an ended tunnel is dropped (as a message on an
    ended tunnel's own subject is). The subscription lasts as long as the connection."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self.subject = f"kadath.relay.{uuid.uuid4().hex}.out"
        self._tunnels: dict[bytes, Callable[[bytes], None]] = {}
        self._sub: Subscription | None = None
        self._subscribing = asyncio.Lock()

    async def add(self, tunnel: str, take: Callable[[bytes], None]) -> None:
        async with self._subscribing:
            if self._sub is None:
                self._sub = await self._nc.subscribe(self.subject, cb=self._received)
        self._tunnels[tunnel.encode()] = take

    def remove(self, tunnel: str) -> None:
        self._tunnels.pop(tunnel.encode(), None)

    async def _received(self, msg: Msg) -> None:
        data, pos, tunnels = msg.data, 0, self._tunnels
        try:
            while pos < len(data):
                line = data.index(b"\n", pos)
                tunnel, size = data[pos:line].split(b" ")
                pos = line + 1 + int(size)
                take = tunnels.get(tunnel)
                if take is not None:
                    take(data[line + 1 : pos])
        except ValueError:
            log.warning("tunnel_records_unreadable", subject=msg.subject)


_outboxes: weakref.WeakKeyDictionary[Client, Outbox] = weakref.WeakKeyDictionary()
_demuxes: weakref.WeakKeyDictionary[Client, Demux] = weakref.WeakKeyDictionary()


def outbox(nc: Client) -> Outbox:
    box = _outboxes.get(nc)
    if box is None:
        box = _outboxes[nc] = Outbox(nc)
    return box


def demux(nc: Client) -> Demux:
    box = _demuxes.get(nc)
    if box is None:
        box = _demuxes[nc] = Demux(nc)
    return box


class TunnelTransport:
    """The holder's end of a tunnel: a Transport for the connection handler, whose client is
    the relay's connection in another process."""

    def __init__(
        self,
        nc: Client,
        tunnel: str,
        remote: str,
        hello: str,
        heartbeat: float,
        silence: float,
        relay: str | None = None,
    ) -> None:
        self.remote = remote
        # The relay's ``Demux`` subject: messages go out gathered (``Outbox``); without one
        # (a relay that names none), each on the tunnel's own ``out`` subject.
        self._outbox = outbox(nc) if relay else None
        self._relay = relay or ""
        self.tunnel = tunnel
        self._nc = nc
        self._heartbeat, self._silence = heartbeat, silence
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue(TUNNEL_INBOX)
        self._inbox.put_nowait(TEXT + hello.encode())  # replayed: the handler reads it first
        self._heard = time.monotonic()
        self._spoke = 0.0  # when this side last sent the relay something (heartbeats aside)
        self._closed = False
        self.moving_to: str | None = None  # set by a hand-over: ``close`` then says ``M``
        self.read = 0  # text frames handed to the connection handler, the hello first
        # The relay's numbering (``T<n>``, the hello 1): the last number taken, in order,
        # and the last one acknowledged (``K<n>``).
        self._taken = self._acked = 1
        self._gap_told = 0  # the last ``_taken`` a ``G`` was sent for (once a gap)
        self._sub: Subscription | None = None
        self._beat: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(in_subject(self.tunnel), cb=self._received)
        self._beat = asyncio.create_task(self._beats(), name=f"tunnel-{self.tunnel}")

    async def _received(self, msg: Msg) -> None:
        self._heard = time.monotonic()
        data = msg.data
        if data[:1] == TEXT:
            self._take_text(data)
        elif data != HEARTBEAT:
            self._deliver(data)

    def _take_text(self, data: bytes) -> None:
        """A numbered client frame: the next one is taken; one taken already is acknowledged
        again (its acknowledgement may have been lost) and dropped; one past a gap is dropped
        (the relay sends it again after the missing one)."""
        head, _, text = data[1:].partition(b"\n")
        try:
            n = int(head)
        except ValueError:
            log.warning("tunnel_frame_unnumbered", tunnel=self.tunnel)
            return
        if n == self._taken + 1:
            self._taken = n
            self._deliver(TEXT + text)
        elif n <= self._taken and not self._closed:
            self._acked = self._taken
            self._later(ACK + str(self._taken).encode())
        elif n > self._taken + 1 and self._gap_told != self._taken and not self._closed:
            self._gap_told = self._acked = self._taken
            self._later(GAP + str(self._taken).encode())

    def _ack(self) -> bytes | None:
        """The acknowledgement due, if the holder took frames since it last sent one."""
        if self._taken == self._acked:
            return None
        self._acked = self._taken
        return ACK + str(self._taken).encode()

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
            ack = self._ack()  # frames taken since the last one went: it heartbeats too
            if ack is None and time.monotonic() - self._spoke < self._heartbeat:
                continue  # the relay heard from us within the period: no heartbeat needed
            with contextlib.suppress(*NATS_FAILURES):
                await self._nc.publish(out_subject(self.tunnel), ack or HEARTBEAT)

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
        if not self.put_frames(batch):
            ack = self._ack()
            if ack is not None:
                await self._send(ack)
            await self._send(encode_frames(batch))

    def put_frames(self, batch: Sequence[Delivery]) -> bool:
        """Gathered (``Outbox``): the frames are taken now (``QueueingTransport``)."""
        if self._outbox is None or self._closed or self._nc.is_closed:
            return False
        self._spoke = time.monotonic()
        ack = self._ack()
        if ack is not None:  # in the same NATS message as the frames
            self._outbox.put(self._relay, self.tunnel, ack)
        self._outbox.put_frames(self._relay, self.tunnel, batch)
        return True

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
        self._spoke = time.monotonic()
        if self._outbox is not None:
            if self._nc.is_closed:
                self._closed = True
                raise TransportClosed
            self._outbox.put(self._relay, self.tunnel, data)
            return
        try:
            await self._nc.publish(out_subject(self.tunnel), data)
        except NATS_FAILURES:
            self._closed = True
            raise TransportClosed from None

    def _later(self, data: bytes) -> None:
        """Publish from a synchronous method, in a task. Tasks start in the order they were
        made and nats-py's ``publish`` appends to the connection's buffer in its first step, so
        this goes out before anything a task made later publishes (``use_batches`` comes
        before the session's writer starts). Gathered, it is put at once."""
        if self._outbox is not None:
            if not self._nc.is_closed:
                self._outbox.put(self._relay, self.tunnel, data)
            return
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
            welcome = (
                frame.kind == WELCOME
                if isinstance(frame, Relayed)
                else frame.frame.get("type") == "welcome"
            )
            if welcome and not self.welcome():
                continue
            self.sent += 1
            out.append((self.sent, frame))
        return out

    def mark(self) -> tuple[int, bool]:
        """Where the numbering stands (``rewind`` goes back to it: a write that did not
        happen)."""
        return self.sent, self._greeted

    def rewind(self, mark: tuple[int, bool]) -> None:
        self.sent, self._greeted = mark

    def welcome(self) -> bool:
        """A ``welcome`` comes: whether the client is to have it (the first only)."""
        if self._greeted:
            return False
        self._greeted = True
        return True

    def texts(self, body: bytes, owed: Owed) -> list[str]:
        """An ``F`` message's frames (``encode_frames``) as the client is sent them, numbered
        (as ``number``), the answers struck out of ``owed``: the holder's encoding with the
        ``seq`` put in front, nothing decoded but the ``re`` of a reply."""
        texts: list[str] = []
        for line in body.decode().split("\n"):
            tag, _, text = line.partition("\t")
            if tag:
                kind = tag[0]
                if kind == ANSWER:
                    re = json.loads(tag[1:])
                    owed.answered(ANSWER, re if isinstance(re, str) else None)
                elif kind == PONG:
                    owed.answered(PONG, None)
                elif kind == WELCOME and not self.welcome():
                    continue
            self.sent += 1
            texts.append(f'{{"seq":{self.sent},{text}')
        return texts


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
        # The client's direct write (``DirectTransport``: a WebSocket on Kadath's uvicorn
        # protocol, telnet): the session writes through it from a loop callback, as it does
        # on the client itself in one process, instead of waking its writer task a batch.
        self._send_now = client.send_frames_now if isinstance(client, DirectTransport) else None

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

    def send_frames_now(self, batch: Sequence[Delivery]) -> bool:
        """``DirectTransport``: numbered and written at once when the client takes it; else
        nothing written, nothing numbered, False (the session's writer sends it)."""
        send_now = self._send_now
        if send_now is None:
            return False
        numbering = self._numbering
        before = numbering.mark()
        out = numbering.number(batch)
        if not out or send_now(out):
            return True
        numbering.rewind(before)
        return False

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
        follow: bool = False,
    ) -> None:
        self._nc, self._client, self.zone, self._numbering = nc, client, zone, numbering
        # The client follows ``moved`` (protocol 4): the holder may answer with its URL
        # instead of opening (``kadath.cluster.placement``); then ``placed`` is that URL.
        self._follow = follow
        self.placed: str | None = None
        self._hello, self._replay = replay[0], replay[1:]
        self._heartbeat, self._silence, self._send_timeout = heartbeat, silence, send_timeout
        self.tunnel = uuid.uuid4().hex
        # The holder's messages the client has not taken (at most RELAY_QUEUE), and the
        # writer's wake-up when it waits for more (no task or timer a message: ``_take``).
        self._from_holder: deque[bytes] = deque()
        self._taking = 0  # messages taken out of it for the write under way (counted too)
        self._waiter: asyncio.Future[None] | None = None
        self._overfull = False  # the client fell RELAY_QUEUE batches behind: aborted
        self._heard = time.monotonic()  # the holder's last message (``_heartbeats`` watches)
        self._spoke = 0.0  # when the relay last sent the holder a client's frame
        self._lost = False  # the holder was silent for ``silence``
        # The send timeout's watchdog (as ``Session``'s): when the write under way began, one
        # timer re-armed at most once per ``send_timeout``, and whether it fired.
        self._sending_since: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._stuck = False
        self._writer: asyncio.Task[tuple[str, int] | object | None] | None = None
        self._texts: deque[str] = deque(maxlen=KEEP_SENT)  # sent on this tunnel, the last ones
        self._count = 0  # text frames sent on this tunnel, the hello first
        self._owed = Owed(max_line)  # what the client sent on this tunnel, not answered yet
        # Client frames sent and not acknowledged (at most UNACKED): [number, message, when
        # last sent]; when the holder last acknowledged one (or the first went unacknowledged).
        self._unacked: deque[list[Any]] = deque()
        self._acked_at = 0.0
        self._resending: set[asyncio.Task[None]] = set()
        # A WebSocket client is handed the frames' texts as made here (``Numbering.texts``):
        # no frame object a frame; any other gets ``Relayed`` frames.
        self._send_texts = client.send_texts if isinstance(client, TextTransport) else None

    async def run(self) -> Moved | Lost | Placed | None:
        """To the tunnel's end; where the character was handed over to, if it was; ``Lost``
        if the holder was (the relay then routes the character again); ``Placed`` when the
        holder sends a following client to its own URL (no tunnel was opened)."""
        sub = await self._nc.subscribe(out_subject(self.tunnel), cb=self._received)
        gathered = demux(self._nc)
        await gathered.add(self.tunnel, self._take)
        try:
            if not await self._open():
                if self.placed is not None:
                    return Placed(self.placed)
                await self._publish(GONE)  # a holder whose answer came too late: let it go
                return Lost(opened=False)
            log.info("tunnel_relayed", tunnel=self.tunnel, zone=self.zone)
            for text in self._replay:
                await self._send_text(text)
            self._heard = time.monotonic()
            reading = asyncio.create_task(self._client_to_holder())
            beating = asyncio.create_task(self._heartbeats())
            writing = self._writer = asyncio.create_task(self._holder_to_client())
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
            gathered.remove(self.tunnel)
            for task in self._resending:
                task.cancel()
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    async def _received(self, msg: Msg) -> None:
        if msg.data == HEARTBEAT:
            self._heard = time.monotonic()
        else:
            self._take(msg.data)

    def _take(self, data: bytes) -> None:
        """A message from the holder, on the tunnel's own subject or gathered (``Demux``)."""
        self._heard = time.monotonic()
        if data[:1] == ACK:
            self._acknowledged(data)
            return
        if data[:1] == GAP:  # the holder missed a frame: what it did not take, again now
            self._acknowledged(data)
            self._resend_now()
            return
        if len(self._from_holder) + self._taking < RELAY_QUEUE:
            self._from_holder.append(data)
        elif not self._overfull:
            self._overfull = True
            log.warning("tunnel_client_behind", tunnel=self.tunnel, limit=RELAY_QUEUE)
            self._client.abort()
        self._wake()

    def _acknowledged(self, data: bytes) -> None:
        """``K<n>``: the holder took every client frame up to ``n``."""
        try:
            n = int(data[1:])
        except ValueError:
            return
        unacked = self._unacked
        if unacked and unacked[0][0] <= n:
            while unacked and unacked[0][0] <= n:
                unacked.popleft()
            self._acked_at = self._heard

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def backlog(self) -> int:
        """The holder's messages the client has not taken yet."""
        return len(self._from_holder) + self._taking

    async def _open(self) -> bool:
        self._texts.append(self._hello)
        self._count = 1
        request: dict[str, Any] = {
            "tunnel": self.tunnel,
            "remote": self._client.remote,
            "hello": self._hello,
            "relay": demux(self._nc).subject,
        }
        if self._follow:
            request["follow"] = True
        try:
            reply = await self._nc.request(
                open_subject(self.zone), json.dumps(request).encode(), timeout=OPEN_TIMEOUT
            )
            answer = json.loads(reply.data)
        except (*NATS_FAILURES, nats.errors.NoRespondersError, ValueError) as exc:
            log.info("tunnel_refused", zone=self.zone, error=repr(exc))
            return False
        if isinstance(answer, dict) and answer.get("ok") is True:
            return True
        self.placed = placed_at(answer) if self._follow else None
        return False

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
        now = self._spoke = time.monotonic()
        data = b"%b%d\n%b" % (TEXT, self._count, text.encode())
        unacked = self._unacked
        if not unacked:
            self._acked_at = now
        elif len(unacked) >= UNACKED:
            log.warning("tunnel_unacknowledged_full", tunnel=self.tunnel, limit=UNACKED)
            self._client.abort()
            return
        unacked.append([self._count, data, now])
        await self._publish(data)

    def _resend_now(self) -> None:
        """Every unacknowledged frame again, in order, from a task (``_take`` is called from
        a NATS callback)."""
        task = asyncio.ensure_future(self._resend(at_once=True))
        self._resending.add(task)
        task.add_done_callback(self._resending.discard)

    async def _resend(self, *, at_once: bool = False) -> None:
        """Send again, in order, the unacknowledged frames whose last send is
        ``RESEND_PERIODS`` heartbeat periods old (every one, ``at_once``: the holder said
        it missed one); the holder drops those it has."""
        now = time.monotonic()
        due = now if at_once else now - RESEND_PERIODS * self._heartbeat
        if not self._unacked or self._unacked[0][2] > due:
            return
        log.info("tunnel_resending", tunnel=self.tunnel, frames=len(self._unacked))
        for sent in list(self._unacked):
            if sent[2] <= due:
                sent[2] = self._spoke = now
                await self._publish(sent[1])

    async def _heartbeats(self) -> None:
        """A heartbeat every period in which the client sent nothing (either tells the
        holder the relay lives); the resends (``_resend``); and the holder's silence: nothing
        heard from it for ``silence`` seconds (a heartbeat included), or no client frame
        acknowledged for as long while some wait, ends the tunnel ``LOST``."""
        while True:
            await asyncio.sleep(self._heartbeat)
            now = time.monotonic()
            if now - self._heard >= self._silence:
                self._lost = True
                self._wake()
                return
            if self._unacked and now - self._acked_at >= self._silence:
                log.warning("tunnel_holder_not_acknowledging", tunnel=self.tunnel)
                self._lost = True
                self._wake()
                return
            await self._resend()
            if time.monotonic() - self._spoke >= self._heartbeat:  # else the holder heard us
                await self._publish(HEARTBEAT)

    async def _holder_to_client(self) -> tuple[str, int] | object | None:
        """Until the tunnel ends: if handed over, the zone and how many of the tunnel's text
        frames the holder read; ``LOST`` if the holder fell silent; else None.

        Whatever the holder sent while the client was being written to (several NATS
        messages) goes to the client in one write (one WebSocket message for a client that
        asked for batches), at most ``BATCH_LIMIT`` frames a write."""
        queue, loop = self._from_holder, asyncio.get_running_loop()
        try:
            while not self._overfull:
                if not queue:
                    if self._lost:
                        return LOST
                    waiter = self._waiter = loop.create_future()
                    try:
                        await waiter
                    finally:
                        self._waiter = None
                    continue
                batch: list[Any] = []  # frames (``_frames``), or their texts
                while queue:
                    data = queue.popleft()
                    if data[:1] == FRAMES:
                        self._taking += 1
                        batch += self._frames(data)
                        if len(batch) >= BATCH_LIMIT:
                            await self._write(batch)
                            batch = []
                        continue
                    if batch:
                        await self._write(batch)
                        batch = []
                    ended, outcome = await self._control(data)
                    if ended:
                        return outcome
                if batch:
                    await self._write(batch)
        except TransportClosed:
            return None
        except asyncio.CancelledError:
            if not self._stuck:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self._client.abort()  # a client that takes nothing (the holder's session cannot see)
            return None
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
        return None  # aborted: the client fell too far behind

    def _frames(self, data: bytes) -> list[Any]:
        """An ``F`` message's frames, numbered for the client (their texts, for a
        ``TextTransport``); the answers struck out."""
        if self._send_texts is not None:
            return self._numbering.texts(data[1:], self._owed)
        decoded = decode_frames(data[1:])
        owed = self._owed
        for _seq, frame in decoded:
            if frame.kind:
                owed.answered(frame.kind, frame.re)
        return self._numbering.number(decoded)

    async def _control(self, data: bytes) -> tuple[bool, tuple[str, int] | None]:
        """A message that is not frames: whether it ends the tunnel, and a hand-over's zone
        and how many text frames the holder read."""
        kind, client = data[:1], self._client
        if kind == BATCHES:
            client.use_batches()
        elif kind == MOVED:
            moved = json.loads(data[1:])
            return True, (str(moved["zone"]), int(moved["read"]))
        elif kind == CLOSE:
            code, reason = json.loads(data[1:])
            await client.close(int(code), str(reason))
            return True, None
        elif kind == ABORT:
            client.abort()
            return True, None
        return False, None

    async def _write(self, batch: list[Any]) -> None:
        """To the client, watched: a write not taken within ``send_timeout`` stops the
        writer (``_watch``), and the client is aborted."""
        loop = asyncio.get_running_loop()
        self._sending_since = loop.time()
        if self._watchdog is None:
            self._watchdog = loop.call_at(self._sending_since + self._send_timeout, self._watch)
        if self._send_texts is not None:
            await self._send_texts(batch)
        else:
            await self._client.send_frames(batch)
        self._sending_since = None
        self._taking = 0

    def _watch(self) -> None:
        self._watchdog = None
        since, writer = self._sending_since, self._writer
        if since is None or writer is None:
            return  # idle: the next write arms it again
        loop = asyncio.get_running_loop()
        due = since + self._send_timeout
        if loop.time() >= due:
            self._stuck = True
            writer.cancel()
        else:
            self._watchdog = loop.call_at(due, self._watch)

    async def _publish(self, data: bytes) -> None:
        with contextlib.suppress(*NATS_FAILURES):
            await self._nc.publish(in_subject(self.tunnel), data)
