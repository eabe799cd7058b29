"""The tunnel's parts in one process: frames through a tunnel keep their text and seq, numbering
across hand-overs, the local transport's replay, and a holder whose relay fell silent ending
the session (against a private NATS server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence

import nats
from kadath_cluster import PrivateNats

from kadath.cluster.failover import SHIFTED, SHIFTS, Lost, Owed, failover_frames
from kadath.cluster.leases import settled
from kadath.cluster.tunnel import (
    ABORT,
    CLOSE,
    FRAMES,
    HEARTBEAT,
    RELAY_QUEUE,
    TEXT,
    TUNNEL_INBOX,
    LocalTransport,
    Numbering,
    Tunnel,
    TunnelTransport,
    decode_frames,
    demux,
    encode_frames,
    in_subject,
    open_subject,
    out_subject,
    serve_tunnel,
)
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.transport import DirectTransport, Transport, TransportClosed

WITHIN = 20.0


class FakeClient:
    """A client transport: what it is sent, and the texts it will say."""

    def __init__(self, says: Sequence[str] = ()) -> None:
        self.remote = "10.0.0.1:5000"
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.batches = False
        self._says: asyncio.Queue[str | None] = asyncio.Queue()
        for text in says:
            self._says.put_nowait(text)

    def unsaid(self) -> list[str]:
        """What the client said that nobody read yet (taken)."""
        texts = []
        while not self._says.empty():
            text = self._says.get_nowait()
            if text is not None:
                texts.append(text)
        return texts

    async def receive_text(self) -> str:
        text = await self._says.get()
        if text is None:
            raise TransportClosed
        return text

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        self.sent += [frame.text(seq) for seq, frame in batch]

    def use_batches(self) -> None:
        self.batches = True

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        self.closed = (0, "aborted")


def test_frames_cross_a_tunnel_as_the_websocket_would_send_them() -> None:
    """The holder's encoding reaches the client as it is (renumbered), and the relay reads
    what it needs (a welcome, the id a reply answers, a pong) without decoding the frame."""
    frames = [
        (7, Outgoing({"type": "room", "text": 'A line\nand \u00e9\t"quoted"'})),
        (8, Outgoing({"type": "pong"})),
        (9, Outgoing({"type": "reply", "re": "a\tb\nc", "ok": True})),
        (10, Outgoing({"type": "error", "code": "bad_frame", "re": "x"})),
        (11, Outgoing({"type": "welcome", "re": 3})),
    ]
    decoded = decode_frames(encode_frames(frames)[1:])
    assert [f.text(seq) for seq, (_, f) in zip(range(7, 12), decoded, strict=True)] == [
        f.text(seq) for seq, f in frames
    ]
    assert [(f.kind, f.re) for _, f in decoded] == [
        ("", None),
        ("p", None),
        ("r", "a\tb\nc"),
        ("r", "x"),
        ("w", None),
    ]
    assert all(f._decoded is None for _, f in decoded)  # nothing decoded to pass it on
    assert [f.frame for _, f in decoded] == [f.frame for _, f in frames]  # a telnet client's


def test_a_websocket_client_is_handed_the_holders_texts_numbered_as_frames_would_be() -> None:
    """``Numbering.texts`` (a WebSocket client's path: no frame object a frame) gives the
    texts ``number`` and ``Outgoing.text`` give, greets once, and strikes out the answers."""
    holder = [
        (1, Outgoing({"type": "welcome"})),
        (2, Outgoing({"type": "room", "text": 'A line\nand \u00e9\t"quoted"'})),
        (3, Outgoing({"type": "reply", "re": "c1", "ok": True})),
        (4, Outgoing({"type": "pong"})),
        (5, Outgoing({"type": "welcome"})),
        (6, Outgoing({"type": "error", "code": "bad_frame", "re": "c2"})),
    ]
    framed, texted = Numbering(), Numbering()
    expected = [f.text(seq) for seq, f in framed.number(holder)]
    owed = Owed(1000)
    for text in ('{"type":"command","id":"c1","text":"x"}', '{"type":"ping"}'):
        owed.ask(text)
    owed.ask('{"type":"command","id":"c2","text":"y"}')
    owed.ask('{"type":"command","id":"c3","text":"z"}')
    assert texted.texts(encode_frames(holder)[1:], owed) == expected
    assert [json.loads(t)["seq"] for t in expected] == [1, 2, 3, 4, 5]
    assert (owed.ids, owed.pings) == (["c3"], 0)
    assert texted.sent == framed.sent == 5


def test_numbering_runs_on_across_sessions_and_greets_once() -> None:
    numbering = Numbering()
    welcome, room = Outgoing({"type": "welcome"}), Outgoing({"type": "room"})
    first = numbering.number([(1, welcome), (2, room)])
    second = numbering.number([(1, welcome), (2, room), (3, Outgoing({"type": "reply"}))])
    assert [seq for seq, _ in first + second] == [1, 2, 3, 4]
    assert [f.frame["type"] for _, f in second] == ["room", "reply"]


async def test_a_local_transport_replays_then_reads_and_a_hand_over_leaves_the_client_open() -> (
    None
):
    client = FakeClient(["later"])
    local = LocalTransport(client, ["hello", "unread"], Numbering())
    assert [await local.receive_text() for _ in range(3)] == ["hello", "unread", "later"]
    local.moving_to = "harbour"
    await local.close(1000, "handed over")
    assert client.closed is None
    await LocalTransport(client, [], Numbering()).close(1000, "bye")
    assert client.closed == (1000, "bye")


class DirectClient(FakeClient):
    """A client that writes at once while ``takes`` (``DirectTransport``)."""

    def __init__(self) -> None:
        super().__init__()
        self.takes = True

    def send_frames_now(self, batch: Sequence[Delivery]) -> bool:
        if not self.takes:
            return False
        self.sent += [frame.text(seq) for seq, frame in batch]
        return True


async def test_a_local_transport_writes_at_once_when_its_client_can() -> None:
    """A session on a ``LocalTransport`` of a WebSocket client writes as on the client itself
    (``DirectTransport``), numbered on; a write the client does not take numbers nothing,
    and the writer's send then numbers it as if it had never been tried."""
    client = DirectClient()
    local = LocalTransport(client, [], Numbering())
    assert isinstance(local, DirectTransport)
    welcome, room = Outgoing({"type": "welcome"}), Outgoing({"type": "room"})
    assert local.send_frames_now([(1, welcome), (2, room)]) is True
    client.takes = False
    assert local.send_frames_now([(3, welcome), (4, room)]) is False
    assert len(client.sent) == 2
    await local.send_frames([(3, welcome), (4, room)])  # a second welcome: left out
    assert [json.loads(t)["seq"] for t in client.sent] == [1, 2, 3]
    assert LocalTransport(FakeClient(), [], Numbering()).send_frames_now([(1, room)]) is False


async def test_a_holder_ends_the_session_when_its_relay_falls_silent(
    nats_server: PrivateNats,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        transport = TunnelTransport(nc, "t1", "10.0.0.1:5000", "hello", heartbeat=0.1, silence=0.3)
        await transport.start()
        async with asyncio.timeout(WITHIN):
            assert await transport.receive_text() == "hello"
            try:
                await transport.receive_text()
                raise AssertionError("the silent relay's tunnel stayed open")
            except TransportClosed:
                pass
    finally:
        await nc.close()


async def test_a_tunnel_carries_a_session_and_reports_a_hand_over_with_what_was_unread(
    nats_server: PrivateNats,
) -> None:
    """A holder that answers the hello, replies to one command, then hands the character over
    (as ``ClusterNode.handover`` does) without reading the next: the relay gets the frames
    numbered in order, then the zone; the command the holder did not read is not lost."""
    nc = await nats.connect(nats_server.url)
    served: list[str] = []

    async def serve(transport: Transport) -> None:
        assert isinstance(transport, TunnelTransport)
        served.append(await transport.receive_text())
        await transport.send_frames([(1, Outgoing({"type": "welcome"}))])
        served.append(await transport.receive_text())
        await transport.send_frames([(2, Outgoing({"type": "reply", "re": "c1"}))])
        transport.moving_to = "harbour"
        await transport.close(1000, "handed over")

    async def open_tunnel(msg: nats.aio.msg.Msg) -> None:
        request = json.loads(msg.data)
        transport = TunnelTransport(
            nc,
            request["tunnel"],
            request["remote"],
            request["hello"],
            heartbeat=1,
            silence=5,
            relay=request["relay"],  # the relay's Demux: gathered
        )
        await transport.start()
        tasks.append(asyncio.create_task(serve_tunnel(transport, serve)))
        await msg.respond(b'{"ok": true}')

    tasks: list[asyncio.Task[None]] = []
    try:
        await nc.subscribe(open_subject("arkham"), cb=open_tunnel)
        client = FakeClient(['{"id": "c1"}', '{"id": "c2"}'])
        tunnel = Tunnel(
            nc, client, ["hello"], "arkham", Numbering(), heartbeat=1, silence=5, send_timeout=5
        )
        async with asyncio.timeout(WITHIN):
            zone, unread = await tunnel.run() or ("", [])
            await asyncio.gather(*tasks)
        assert zone == "harbour"
        # The holder read c1, not c2: c2 is given back, or was never taken from the client.
        assert unread + client.unsaid() == ['{"id": "c2"}']
        assert served == ["hello", '{"id": "c1"}']
        assert [json.loads(text)["seq"] for text in client.sent] == [1, 2]
        assert client.closed is None
    finally:
        await nc.close()


async def test_a_holder_keeps_a_bounded_inbox_and_drops_a_relay_that_floods_it(
    nats_server: PrivateNats,
) -> None:
    """Client frames wait for the holder's handler in a bounded inbox: a relay that sends more
    than it holds, unread, is aborted (as a local client flooding its socket would be held back
    by TCP), and the inbox never grows past its bound."""
    nc = await nats.connect(nats_server.url)
    relay = await nats.connect(nats_server.url)
    heard: list[bytes] = []
    try:
        aborted = asyncio.Event()

        async def from_holder(msg: nats.aio.msg.Msg) -> None:
            heard.append(msg.data)
            if msg.data == ABORT:
                aborted.set()

        await relay.subscribe(out_subject("t2"), cb=from_holder)
        transport = TunnelTransport(nc, "t2", "10.0.0.1:5000", "hello", heartbeat=1, silence=5)
        await transport.start()
        await settled(nc)  # the server has both subscriptions before the flood
        await settled(relay)
        for n in range(TUNNEL_INBOX + 50):
            frame = f'{n + 2}\n{{"id": "c{n}"}}'  # numbered: the hello is 1
            await relay.publish(in_subject("t2"), TEXT + frame.encode())
        await relay.flush()
        async with asyncio.timeout(WITHIN):
            await aborted.wait()
            assert transport._inbox.qsize() <= TUNNEL_INBOX
            try:
                while True:
                    await transport.receive_text()
            except TransportClosed:
                pass
    finally:
        await relay.close()
        await nc.close()


class StuckClient(FakeClient):
    """A client that takes nothing once ``stuck``: a send then waits until the connection is
    aborted."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = False
        self._aborted = asyncio.Event()

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        if not self.stuck:
            await super().send_frames(batch)
            return
        await self._aborted.wait()
        raise TransportClosed

    def abort(self) -> None:
        super().abort()
        self._aborted.set()


async def test_a_relay_keeps_a_bounded_queue_of_the_holders_frames_for_a_stuck_client(
    nats_server: PrivateNats,
) -> None:
    """The holder's frames wait for a slow client in a bounded queue: past it the client is
    aborted at once (not after the send timeout) and the tunnel ends."""
    nc = await nats.connect(nats_server.url)
    holder = await nats.connect(nats_server.url)
    client = StuckClient()

    async def open_tunnel(msg: nats.aio.msg.Msg) -> None:
        tunnel_id = json.loads(msg.data)["tunnel"]
        client.stuck = True
        await msg.respond(b'{"ok": true}')
        for n in range(RELAY_QUEUE + 50):
            frame = encode_frames([(n + 1, Outgoing({"type": "room", "text": "x"}))])
            await holder.publish(out_subject(tunnel_id), frame)

    try:
        await holder.subscribe(open_subject("harbour"), cb=open_tunnel)
        await settled(holder)  # the server has the subscription before the open
        client = StuckClient()
        tunnel = Tunnel(
            nc, client, ["hello"], "harbour", Numbering(), heartbeat=1, silence=60,
            send_timeout=60,
        )  # fmt: skip
        async with asyncio.timeout(WITHIN):
            outcome = await tunnel.run()
        assert client.stuck
        assert outcome is None
        assert client.closed == (0, "aborted")
        assert tunnel.backlog <= RELAY_QUEUE
    finally:
        await holder.close()
        await nc.close()


async def test_a_tunnel_whose_holder_falls_silent_ends_lost_with_what_it_did_not_answer(
    nats_server: PrivateNats,
) -> None:
    """A holder that welcomes, answers c1, reads c2, a ping and c3 (whose id is read though
    its text is not a string) and then dies: the tunnel ends ``Lost`` with c2, c3 and the ping
    owed (a frame with no id owes nothing), and the relay closes nothing itself."""
    nc = await nats.connect(nats_server.url)
    dead = asyncio.Event()

    async def serve(transport: Transport) -> None:
        await transport.receive_text()
        await transport.send_frames([(1, Outgoing({"type": "welcome"}))])
        await transport.receive_text()
        await transport.send_frames([(2, Outgoing({"type": "reply", "re": "c1"}))])
        for _ in range(4):
            await transport.receive_text()
        assert isinstance(transport, TunnelTransport)
        await transport.finish()  # dies: no heartbeat, no close
        dead.set()

    async def open_tunnel(msg: nats.aio.msg.Msg) -> None:
        request = json.loads(msg.data)
        transport = TunnelTransport(
            nc, request["tunnel"], request["remote"], request["hello"], heartbeat=0.2, silence=5
        )
        await transport.start()
        tasks.append(asyncio.create_task(serve(transport)))
        await msg.respond(b'{"ok": true}')

    tasks: list[asyncio.Task[None]] = []
    texts = [
        json.dumps({"type": "command", "id": "c1", "text": "look"}),
        json.dumps({"type": "command", "id": "c2", "text": "get poker"}),
        json.dumps({"type": "ping"}),
        json.dumps({"type": "command", "id": "c3", "text": 7}),
        json.dumps({"type": "command", "text": "no id"}),
    ]
    try:
        await nc.subscribe(open_subject("arkham"), cb=open_tunnel)
        await settled(nc)  # the server has the subscription before the open
        client = FakeClient(texts)
        tunnel = Tunnel(
            nc, client, ["hello"], "arkham", Numbering(), heartbeat=0.2, silence=1,
            send_timeout=5,
        )  # fmt: skip
        async with asyncio.timeout(WITHIN):
            outcome = await tunnel.run()
            await dead.wait()
        assert outcome == Lost(opened=True, unanswered=("c2", "c3"), pings=1)
        assert [json.loads(text)["seq"] for text in client.sent] == [1, 2]
        assert client.closed is None
    finally:
        await nc.close()
        for task in tasks:
            task.cancel()


def test_a_lost_holder_leaves_one_reply_per_command_it_did_not_answer() -> None:
    numbering = Numbering()
    numbering.number([(1, Outgoing({"type": "welcome"}))])
    lost = Lost(opened=True, unanswered=("c2", "c3"), pings=1)
    told = numbering.number(failover_frames(lost, notice=True))
    frames = [f.frame for _, f in told]
    assert frames[0] == {"type": "message", "channel": "system", "from": None, "text": SHIFTS}
    assert frames[1:] == [
        {"type": "reply", "re": "c2", "ok": False, "text": SHIFTED},
        {"type": "reply", "re": "c3", "ok": False, "text": SHIFTED},
        {"type": "pong"},
    ]
    assert [seq for seq, _ in told] == [2, 3, 4, 5]
    assert len(failover_frames(lost, notice=False)) == 3  # no notice


async def test_tunnels_to_one_relay_share_one_nats_message_a_loop_turn(
    nats_server: PrivateNats,
) -> None:
    """What the holder sends on several tunnels to one relay in one loop turn (a ``say``
    heard by each of them) crosses NATS as one message, and each tunnel gets its own
    messages, in order (``Outbox``, ``Demux``); one for an ended tunnel is dropped."""
    relay_nc = await nats.connect(nats_server.url)
    holder_nc = await nats.connect(nats_server.url)
    taken: dict[str, list[bytes]] = {"t1": [], "t2": []}
    all_taken = asyncio.Event()

    def taker(name: str) -> Callable[[bytes], None]:
        def take(data: bytes) -> None:
            taken[name].append(data)
            if len(taken["t1"]) + len(taken["t2"]) == 3:
                all_taken.set()

        return take

    wire: list[bytes] = []

    async def heard(msg: nats.aio.msg.Msg) -> None:
        wire.append(msg.data)

    try:
        gathered = demux(relay_nc)
        for name in taken:
            await gathered.add(name, taker(name))
        await gathered.add("ended", taker("t1"))
        gathered.remove("ended")
        await relay_nc.subscribe(gathered.subject, cb=heard)
        await settled(relay_nc)  # the server has both subscriptions before the holder sends
        ends = {
            name: TunnelTransport(
                holder_nc, name, "r", "hello", heartbeat=60, silence=60, relay=gathered.subject
            )
            for name in ("t1", "t2", "ended")
        }
        say = Outgoing({"type": "message", "channel": "say", "text": "hi"})
        await asyncio.gather(
            *(end.send_frames([(1, say)]) for end in ends.values()),
            ends["t1"].send_frames([(2, Outgoing({"type": "pong"}))]),
        )
        await holder_nc.flush()
        async with asyncio.timeout(WITHIN):
            await all_taken.wait()
        assert len(wire) == 1  # four tunnel messages, one NATS message
        assert [decode_frames(data[1:])[0][1].text(1) for data in taken["t1"]] == [
            say.text(1),
            '{"seq":1,"type":"pong"}',
        ]
        assert [data[:1] for data in taken["t2"]] == [FRAMES]
    finally:
        await holder_nc.close()
        await relay_nc.close()


class GatedClient(FakeClient):
    """A client whose first write waits for ``gate``; ``writes`` counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.writing = asyncio.Event()
        self.writes: list[int] = []  # frames in each write

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        self.writes.append(len(batch))
        self.writing.set()
        await self.gate.wait()
        await super().send_frames(batch)


async def test_frames_of_several_holder_messages_waiting_for_a_client_go_out_in_one_write(
    nats_server: PrivateNats,
) -> None:
    """What the holder sent while the relay was still writing to its client (several NATS
    messages) goes to the client in one write (one WebSocket message for a client that asked
    for batches), numbered on without a gap."""
    nc = await nats.connect(nats_server.url)
    holder = await nats.connect(nats_server.url)
    client = GatedClient()

    async def open_tunnel(msg: nats.aio.msg.Msg) -> None:
        tunnel_id = json.loads(msg.data)["tunnel"]
        await msg.respond(b'{"ok": true}')
        room = Outgoing({"type": "room", "text": "x"})
        await holder.publish(out_subject(tunnel_id), encode_frames([(1, room)]))
        await holder.flush()
        await client.writing.wait()  # the relay is writing the first: the rest wait
        for n in range(2, 6):
            await holder.publish(out_subject(tunnel_id), encode_frames([(n, room)]))
        await holder.flush()
        await asyncio.sleep(0.3)
        client.gate.set()
        await holder.publish(out_subject(tunnel_id), CLOSE + b'[1000, "bye"]')

    try:
        await holder.subscribe(open_subject("harbour"), cb=open_tunnel)
        await settled(holder)  # the server has the subscription before the open
        tunnel = Tunnel(
            nc, client, ["hello"], "harbour", Numbering(), heartbeat=1, silence=60,
            send_timeout=60,
        )  # fmt: skip
        async with asyncio.timeout(WITHIN):
            assert await tunnel.run() is None
        assert client.writes == [1, 4]
        assert [json.loads(text)["seq"] for text in client.sent] == [1, 2, 3, 4, 5]
        assert client.closed == (1000, "bye")
    finally:
        await holder.close()
        await nc.close()


async def test_a_relay_aborts_a_client_that_takes_no_write_within_the_send_timeout(
    nats_server: PrivateNats,
) -> None:
    """A client whose socket takes nothing is aborted once a write has waited for
    ``send_timeout`` (the holder's session cannot see it), and the tunnel ends."""
    nc = await nats.connect(nats_server.url)
    holder = await nats.connect(nats_server.url)
    client = StuckClient()

    async def open_tunnel(msg: nats.aio.msg.Msg) -> None:
        tunnel_id = json.loads(msg.data)["tunnel"]
        client.stuck = True
        await msg.respond(b'{"ok": true}')
        room = Outgoing({"type": "room", "text": "x"})
        await holder.publish(out_subject(tunnel_id), encode_frames([(1, room)]))

    try:
        await holder.subscribe(open_subject("harbour"), cb=open_tunnel)
        await settled(holder)  # the server has the subscription before the open
        tunnel = Tunnel(
            nc, client, ["hello"], "harbour", Numbering(), heartbeat=1, silence=60,
            send_timeout=0.3,
        )  # fmt: skip
        async with asyncio.timeout(WITHIN):
            outcome = await tunnel.run()
        assert client.stuck
        assert outcome is None
        assert client.closed == (0, "aborted")
    finally:
        await holder.close()
        await nc.close()


async def test_a_holder_that_keeps_sending_sends_no_heartbeat(nats_server: PrivateNats) -> None:
    """A heartbeat goes only in a period in which the holder sent the relay nothing else
    (anything it sends tells the relay it lives); a quiet one heartbeats again."""
    nc = await nats.connect(nats_server.url)
    relay = await nats.connect(nats_server.url)
    heard: list[bytes] = []

    async def from_holder(msg: nats.aio.msg.Msg) -> None:
        heard.append(msg.data[:1])

    try:
        await relay.subscribe(out_subject("t3"), cb=from_holder)
        await settled(relay)
        transport = TunnelTransport(nc, "t3", "10.0.0.1:5000", "hello", heartbeat=0.5, silence=5)
        await transport.start()
        room = Outgoing({"type": "room", "text": "x"})
        for n in range(30):  # 1.5 s of frames, one every 50 ms
            await transport.send_frames([(n + 1, room)])
            await asyncio.sleep(0.05)
        await settled(nc)  # the server has had all the holder sent (a flush's PING overtakes)
        await settled(relay)  # and the relay all the server sent it before
        assert heard.count(FRAMES) == 30
        assert HEARTBEAT not in heard
        await asyncio.sleep(1.5)  # quiet: heartbeats again
        await settled(nc)  # the server has had all the holder sent (a flush's PING overtakes)
        await settled(relay)  # and the relay all the server sent it before
        assert HEARTBEAT in heard
        await transport.finish()
    finally:
        await relay.close()
        await nc.close()


async def test_frames_taken_for_a_write_the_client_has_not_taken_count_toward_the_bound() -> None:
    """The relay's bound counts what it took out of the queue for a write still under way:
    a stuck client is aborted once RELAY_QUEUE holder messages wait for it, however many the
    write in progress took."""
    client = StuckClient()
    client.stuck = True
    tunnel = Tunnel(
        None,  # type: ignore[arg-type]  # no NATS: the holder's messages are handed in
        client, ["hello"], "harbour", Numbering(), heartbeat=1, silence=60, send_timeout=60,
    )  # fmt: skip
    room = encode_frames([(1, Outgoing({"type": "room", "text": "x"}))])
    for _ in range(40):
        tunnel._take(room)
    writing = asyncio.create_task(tunnel._holder_to_client())
    await asyncio.sleep(0.05)  # the writer took the 40 and waits on the stuck client
    assert tunnel.backlog == 40
    for _ in range(RELAY_QUEUE - 40):
        tunnel._take(room)
    assert client.closed is None
    tunnel._take(room)  # one too many
    assert client.closed == (0, "aborted")
    assert await asyncio.wait_for(writing, WITHIN) is None
    assert tunnel.backlog <= RELAY_QUEUE
