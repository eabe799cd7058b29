"""A relayed client frame lost on NATS (core NATS delivers at most once: a reconnect drops
what was in flight) is resent until the holder acknowledges it, run once and in order; a frame
delivered twice runs once; a holder that never acknowledges ends the tunnel ``Lost`` with every
command it did not answer owed one error reply (against a private NATS server; the faults are
injected at the relay's NATS ``publish``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence

import nats
from kadath_cluster import PrivateNats
from nats.aio.client import Client
from test_tunnel import FakeClient

from kadath.cluster.failover import Lost
from kadath.cluster.leases import settled
from kadath.cluster.tunnel import (
    HEARTBEAT,
    TEXT,
    Numbering,
    Tunnel,
    TunnelTransport,
    in_subject,
    open_subject,
    out_subject,
    serve_tunnel,
)
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.transport import Transport, TransportClosed

WITHIN = 20.0
Publish = Callable[..., Awaitable[None]]


def command(frame_id: str) -> str:
    return json.dumps({"type": "command", "id": frame_id, "text": "look"})


def faulty(nc: Client, fault: Callable[[Publish, str, bytes], Awaitable[None]]) -> None:
    """``nc``'s publishes of client frames (a tunnel's ``in`` subject, a ``T`` message) go
    through ``fault`` (which may drop, repeat or pass them on)."""
    publish: Publish = nc.publish

    async def publishing(subject: str, payload: bytes = b"", **kwargs: object) -> None:
        if subject.endswith(".in") and payload[:1] == TEXT:
            await fault(publish, subject, payload)
        else:
            await publish(subject, payload, **kwargs)

    nc.publish = publishing  # type: ignore[method-assign]


class Holder:
    """A holder answering ``open`` on ``zone`` with a real ``TunnelTransport`` whose session
    replies to each command it reads (``ran``: the ids, in the order run)."""

    def __init__(self, nc: Client, zone: str) -> None:
        self.nc, self.zone = nc, zone
        self.ran: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.nc.subscribe(open_subject(self.zone), cb=self._open)
        await settled(self.nc)  # the server has the subscription before the open

    async def _serve(self, transport: Transport) -> None:
        await transport.receive_text()  # the hello
        await transport.send_frames([(1, Outgoing({"type": "welcome"}))])
        seq = 1
        while True:
            try:
                frame = json.loads(await transport.receive_text())
            except TransportClosed:
                return
            self.ran.append(frame["id"])
            seq += 1
            reply = Outgoing({"type": "reply", "re": frame["id"], "ok": True})
            await transport.send_frames([(seq, reply)])

    async def _open(self, msg: nats.aio.msg.Msg) -> None:
        request = json.loads(msg.data)
        transport = TunnelTransport(
            self.nc,
            request["tunnel"],
            request["remote"],
            request["hello"],
            heartbeat=0.2,
            silence=10,
            relay=request["relay"],
        )
        await transport.start()
        self.tasks.append(asyncio.create_task(serve_tunnel(transport, self._serve)))
        await msg.respond(b'{"ok": true}')


class Answered(FakeClient):
    """A client that knows when its three commands were answered (``answered``)."""

    def __init__(self, says: list[str]) -> None:
        super().__init__(says)
        self.answered = asyncio.Event()

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        await super().send_frames(batch)
        if sum(json.loads(text)["type"] == "reply" for text in self.sent) >= 3:
            self.answered.set()


async def relayed(
    nats_server: PrivateNats,
    fault: Callable[[Publish, str, bytes], Awaitable[None]],
    heartbeat: float = 0.2,
) -> tuple[list[str], list[dict[str, object]]]:
    """Three commands relayed to a holder, ``fault`` at the relay's publish: what the holder
    ran, and what the client was sent (once the three were answered, it leaves)."""
    relay_nc = await nats.connect(nats_server.url)
    holder_nc = await nats.connect(nats_server.url)
    holder = Holder(holder_nc, "arkham")
    try:
        await holder.start()
        faulty(relay_nc, fault)
        client = Answered([command("c1"), command("c2"), command("c3")])
        tunnel = Tunnel(
            relay_nc, client, ["hello"], "arkham", Numbering(), heartbeat=heartbeat,
            silence=10, send_timeout=5,
        )  # fmt: skip
        running = asyncio.create_task(tunnel.run())
        async with asyncio.timeout(WITHIN):
            await client.answered.wait()
            client._says.put_nowait(None)  # the client leaves
            assert await running is None
            await asyncio.gather(*holder.tasks)
        return holder.ran, [json.loads(text) for text in client.sent]
    finally:
        await relay_nc.close()
        await holder_nc.close()


async def test_a_relayed_command_lost_on_the_way_is_resent_and_answered_once_in_order(
    nats_server: PrivateNats,
) -> None:
    """The first publish of c2 is lost: c3, which follows it, waits for it, and both are run
    once, in order, each answered once."""
    dropped: list[bytes] = []

    async def drop_c2_once(publish: Publish, subject: str, payload: bytes) -> None:
        if b'"c2"' in payload and not dropped:
            dropped.append(payload)
            return
        await publish(subject, payload)

    ran, sent = await relayed(nats_server, drop_c2_once)
    assert dropped
    assert ran == ["c1", "c2", "c3"]
    assert [(f["type"], f.get("re")) for f in sent] == [
        ("welcome", None),
        ("reply", "c1"),
        ("reply", "c2"),
        ("reply", "c3"),
    ]
    assert [f["seq"] for f in sent] == [1, 2, 3, 4]


async def test_a_frame_past_a_gap_has_the_missing_one_resent_at_once(
    nats_server: PrivateNats,
) -> None:
    """c2 is lost and c3 follows it: the holder says at once that it missed a frame (``G``)
    and the relay resends then, not at a heartbeat tick (the relay's period here is longer
    than the test's bound)."""
    dropped: list[bytes] = []

    async def drop_c2_once(publish: Publish, subject: str, payload: bytes) -> None:
        if b'"c2"' in payload and not dropped:
            dropped.append(payload)
            return
        await publish(subject, payload)

    ran, sent = await relayed(nats_server, drop_c2_once, heartbeat=3600)
    assert dropped
    assert ran == ["c1", "c2", "c3"]
    assert [f.get("re") for f in sent if f["type"] == "reply"] == ["c1", "c2", "c3"]


async def test_a_relayed_command_delivered_twice_runs_once(nats_server: PrivateNats) -> None:
    async def twice(publish: Publish, subject: str, payload: bytes) -> None:
        await publish(subject, payload)
        await publish(subject, payload)

    ran, sent = await relayed(nats_server, twice)
    assert ran == ["c1", "c2", "c3"]
    assert [f.get("re") for f in sent if f["type"] == "reply"] == ["c1", "c2", "c3"]


async def test_a_holder_that_never_acknowledges_ends_the_tunnel_lost_owing_each_command(
    nats_server: PrivateNats,
) -> None:
    """A holder that opens the tunnel and keeps sending heartbeats but takes none of the
    client's frames (they never reach it): the relay does not wait forever; the tunnel ends
    ``Lost`` with both commands owed an error reply (``failover_frames``), and nothing was
    answered twice."""
    relay_nc = await nats.connect(nats_server.url)
    holder_nc = await nats.connect(nats_server.url)
    beating: list[asyncio.Task[None]] = []

    async def heartbeats(tunnel: str) -> None:
        while True:
            await holder_nc.publish(out_subject(tunnel), HEARTBEAT)
            await asyncio.sleep(0.1)

    async def open_tunnel(msg: nats.aio.msg.Msg) -> None:
        tunnel = json.loads(msg.data)["tunnel"]
        await holder_nc.subscribe(in_subject(tunnel))  # hears, never answers
        beating.append(asyncio.create_task(heartbeats(tunnel)))
        await msg.respond(b'{"ok": true}')

    try:
        await holder_nc.subscribe(open_subject("arkham"), cb=open_tunnel)
        await settled(holder_nc)
        client = FakeClient([command("c1"), command("c2")])
        tunnel = Tunnel(
            relay_nc, client, ["hello"], "arkham", Numbering(), heartbeat=0.2, silence=1,
            send_timeout=5,
        )  # fmt: skip
        async with asyncio.timeout(WITHIN):
            outcome = await tunnel.run()
        assert outcome == Lost(opened=True, unanswered=("c1", "c2"), pings=0)
        assert client.sent == []
        assert client.closed is None
    finally:
        for task in beating:
            task.cancel()
        await relay_nc.close()
        await holder_nc.close()


async def test_a_holder_takes_client_frames_once_and_in_order_whatever_the_wire_does(
    nats_server: PrivateNats,
) -> None:
    """Numbered frames arriving out of order, repeated, or after a gap: the holder's handler
    reads each once, in the relay's order, and is told nothing out of turn."""
    holder_nc = await nats.connect(nats_server.url)
    relay_nc = await nats.connect(nats_server.url)
    acks: list[bytes] = []

    async def from_holder(msg: nats.aio.msg.Msg) -> None:
        acks.append(msg.data)

    try:
        await relay_nc.subscribe(out_subject("t9"), cb=from_holder)
        transport = TunnelTransport(holder_nc, "t9", "r", "hello", heartbeat=0.2, silence=10)
        await transport.start()
        await settled(holder_nc)
        await settled(relay_nc)
        wire = [(2, "a"), (4, "c"), (2, "a"), (3, "b"), (4, "c"), (5, "d"), (3, "b")]
        for n, text in wire:
            await relay_nc.publish(in_subject("t9"), TEXT + f"{n}\n{text}".encode())
        await relay_nc.flush()
        async with asyncio.timeout(WITHIN):
            assert await transport.receive_text() == "hello"
            read = [await transport.receive_text() for _ in range(3)]
            assert read == ["a", "b", "c"]
            assert await transport.receive_text() == "d"
        assert transport._inbox.empty()  # nothing read twice
        await transport.finish()
    finally:
        await relay_nc.close()
        await holder_nc.close()
