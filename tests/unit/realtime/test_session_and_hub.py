from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

from testkit import player_named

from kadath.domain.account import Account
from kadath.domain.errors import DatabaseUnavailable
from kadath.realtime.hub import Hub
from kadath.realtime.outgoing import Delivery
from kadath.realtime.protocol import CLOSE_REPLACED, CLOSE_RESTART
from kadath.realtime.session import QUEUE_LIMIT, Session
from kadath.realtime.transport import TransportClosed
from kadath.services.presence import Presence


class FakeTransport:
    def __init__(self, *, fail: bool = False) -> None:
        self.remote = "test"
        self.sent: list[dict[str, object]] = []
        self.closed: tuple[int, str] | None = None
        self.fail = fail
        self.batches: list[int] = []  # the size of each batch handed over

    async def receive_text(self) -> str:
        raise TransportClosed

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        if self.fail:
            raise TransportClosed
        self.batches.append(len(batch))
        self.sent.extend(json.loads(frame.text(seq)) for seq, frame in batch)

    def use_batches(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        self.aborted = True


class StuckTransport(FakeTransport):
    """A peer that stopped reading: every send and close waits forever."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int, reason: str) -> None:
        await asyncio.Event().wait()

    def abort(self) -> None:
        self.aborted = True


ACCOUNT = Account(uuid.uuid4(), "someone", "x")


async def test_frames_are_numbered_in_order_and_flushed_before_close() -> None:
    transport = FakeTransport()
    session = Session(transport, ACCOUNT, uuid.uuid4())
    session.start()
    for i in range(5):
        session.send({"type": "message", "text": str(i)})
    session.close(1000, "bye")
    await asyncio.wait_for(session.closed.wait(), 2)
    assert [f["seq"] for f in transport.sent] == [1, 2, 3, 4, 5]
    assert transport.closed == (1000, "bye")
    session.send({"type": "message", "text": "late"})
    assert len(transport.sent) == 5


async def test_a_dead_peer_ends_the_writer_quietly() -> None:
    transport = FakeTransport(fail=True)
    session = Session(transport, ACCOUNT, uuid.uuid4())
    session.start()
    session.send({"type": "pong"})
    await asyncio.wait_for(session.closed.wait(), 2)
    await session.stop()


async def test_a_newer_session_replaces_the_older_one() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=0)
    player = player_named("Alice")
    presence.enter(player)
    first, second = FakeTransport(), FakeTransport()
    old = Session(first, ACCOUNT, player.id)
    new = Session(second, ACCOUNT, player.id)
    for s in (old, new):
        s.start()
    hub.attach(old)
    hub.attach(new)
    await asyncio.wait_for(old.closed.wait(), 2)
    assert first.sent[-1]["event"] == "kicked"
    assert first.closed is not None and first.closed[0] == CLOSE_REPLACED
    assert hub.session_for(player.id) is new
    hub.detach(old, quit_now=True)  # the old one's end must not remove the new one
    assert hub.session_for(player.id) is new
    await hub.shutdown()
    assert second.sent[-1]["event"] == "shutdown"


async def test_room_messages_skip_the_excluded_and_other_rooms() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=0)
    alice, bob, carol = (
        player_named("Alice"),
        player_named("Bob"),
        player_named("Carol", "elsewhere"),
    )
    transports = {}
    for p in (alice, bob, carol):
        presence.enter(p)
        transports[p.name] = FakeTransport()
        session = Session(transports[p.name], ACCOUNT, p.id)
        hub.attach(session)
        session.start()
    hub.to_room(alice.room_id, {"type": "message", "text": "hi"}, exclude=[alice.id])
    hub.to_world({"type": "message", "text": "all"})
    await asyncio.sleep(0)  # the writers run (a shutdown drops what is still queued)
    await hub.shutdown()
    texts = {name: [f.get("text") for f in t.sent] for name, t in transports.items()}
    assert "hi" in texts["Bob"] and "hi" not in texts["Alice"] and "hi" not in texts["Carol"]
    assert all("all" in t for t in texts.values())


async def test_a_dropped_character_leaves_after_the_grace_period() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=0.05)
    left: list[uuid.UUID] = []
    gone = asyncio.Event()

    class Entry:
        async def leave(self, player_id: uuid.UUID) -> None:
            left.append(player_id)
            gone.set()

        async def leave_all(self) -> int:
            return 0

    hub.entry = Entry()  # type: ignore[assignment]
    player = player_named("Alice")
    presence.enter(player)
    session = Session(FakeTransport(), ACCOUNT, player.id)
    hub.attach(session)
    hub.detach(session, quit_now=False)
    await asyncio.sleep(0.01)
    assert left == []
    again = Session(FakeTransport(), ACCOUNT, player.id)
    hub.attach(again)  # reconnect inside the grace period cancels the departure
    await asyncio.sleep(0.1)
    assert left == []
    hub.detach(again, quit_now=False)
    await asyncio.wait_for(gone.wait(), 2)
    assert left == [player.id]
    await hub.shutdown()


async def test_a_send_that_hangs_aborts_the_connection_within_the_send_timeout() -> None:
    transport = StuckTransport()
    session = Session(transport, ACCOUNT, uuid.uuid4(), send_timeout=0.1)
    session.start()
    session.send({"type": "message", "text": "into the void"})
    await asyncio.wait_for(session.closed.wait(), 2)
    assert transport.aborted
    await asyncio.wait_for(session.stop(), 1)


async def test_an_overflowing_queue_behind_a_stuck_socket_is_aborted() -> None:
    transport = StuckTransport()
    session = Session(transport, ACCOUNT, uuid.uuid4(), send_timeout=0.2)
    session.start()
    for i in range(QUEUE_LIMIT + 10):
        session.send({"type": "message", "text": str(i)})
    await asyncio.wait_for(session.closed.wait(), 2)
    assert transport.aborted


class RecordingEntry:
    """Records what each transport had been sent when everyone was saved."""

    def __init__(self, transports: list[FakeTransport], *, fail: bool = False) -> None:
        self.transports, self.fail = transports, fail
        self.seen_at_save: list[list[dict[str, object]]] = []

    async def leave(self, player_id: uuid.UUID) -> None:
        pass

    async def leave_all(self) -> int:
        self.seen_at_save = [list(t.sent) for t in self.transports]
        if self.fail:
            raise DatabaseUnavailable("The world wavers.")
        return len(self.transports)


def _online(hub: Hub, presence: Presence, transport: FakeTransport, **kw: float) -> Session:
    player = player_named(f"P{uuid.uuid4().hex[:6]}".replace("0", "a"))
    presence.enter(player)
    session = Session(transport, ACCOUNT, player.id, **kw)
    hub.attach(session)
    session.start()
    return session


async def test_players_are_told_they_were_saved_only_after_the_save() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=30)
    transports = [FakeTransport(), FakeTransport()]
    entry = RecordingEntry(transports)
    hub.entry = entry  # type: ignore[assignment]
    for transport in transports:
        _online(hub, presence, transport)
    await asyncio.wait_for(hub.shutdown(), 5)
    assert entry.seen_at_save == [[], []]  # nobody was told anything before the save
    for transport in transports:
        assert transport.sent[-1]["event"] == "shutdown"
        assert "saved" in str(transport.sent[-1]["text"])
        assert transport.closed is not None and transport.closed[0] == CLOSE_RESTART


async def test_a_failed_save_is_not_announced_as_a_save() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=30)
    transport = FakeTransport()
    hub.entry = RecordingEntry([transport], fail=True)  # type: ignore[assignment]
    _online(hub, presence, transport)
    await asyncio.wait_for(hub.shutdown(), 5)
    assert transport.sent[-1]["event"] == "shutdown"
    assert "saved" not in str(transport.sent[-1]["text"])


async def test_shutdown_completes_within_a_bound_while_a_client_never_reads() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=30)
    stuck, fine = StuckTransport(), FakeTransport()
    entry = RecordingEntry([stuck, fine])
    hub.entry = entry  # type: ignore[assignment]
    _online(hub, presence, stuck, send_timeout=0.2)
    _online(hub, presence, fine, send_timeout=0.2)
    await asyncio.wait_for(hub.shutdown(), 3)
    assert stuck.aborted
    assert entry.seen_at_save and fine.sent[-1]["event"] == "shutdown"
    assert hub.connected == 0


class SlowTransport(FakeTransport):
    """A peer that reads, but slowly: each write (a batch) takes 200 ms to go out."""

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        await asyncio.sleep(0.2)
        await super().send_frames(batch)


async def test_the_shutdown_notice_does_not_wait_behind_a_busy_clients_backlog() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=30)
    slow = SlowTransport()
    hub.entry = RecordingEntry([slow])  # type: ignore[assignment]
    session = _online(hub, presence, slow)
    for n in range(1900):  # 30 batches, 6 s at this client's pace: far past CLOSE_WITHIN
        session.send({"type": "message", "text": f"line {n}"})

    await asyncio.wait_for(hub.shutdown(), 5)

    assert slow.sent[-1]["event"] == "shutdown"
    assert slow.closed is not None and slow.closed[0] == CLOSE_RESTART


class QueueingFake(FakeTransport):
    """A transport that queues itself (a tunnel): ``put_frames`` takes a batch at once."""

    def __init__(self) -> None:
        super().__init__()
        self.put: list[int] = []  # seqs taken by put_frames
        self.taking = True

    def put_frames(self, batch: Sequence[Delivery]) -> bool:
        if not self.taking:
            return False
        self.put += [seq for seq, _frame in batch]
        return True


async def test_a_queueing_transport_takes_the_frames_in_the_senders_turn_then_the_close() -> None:
    """A session on a transport that queues itself hands it each frame as it is woken, in
    the sender's turn (no writer task in between), in seq order; a transport that will not
    take them leaves them to the writer; the close still flushes and closes."""
    transport = QueueingFake()
    session = Session(transport, ACCOUNT, uuid.uuid4())
    session.start()
    await asyncio.sleep(0)  # the writer waits idle
    session.send({"type": "room"})
    session.send({"type": "message"})
    assert transport.put == [1, 2]  # taken at once, before any await
    transport.taking = False
    session.send({"type": "reply"})
    assert transport.put == [1, 2]
    await asyncio.sleep(0.01)
    assert [frame["seq"] for frame in transport.sent] == [3]  # sent by the writer
    transport.taking = True
    session.send({"type": "pong"})
    session.close(1000, "bye")
    await asyncio.wait_for(session.closed.wait(), 1)
    assert transport.put == [1, 2, 4]
    assert transport.closed == (1000, "bye")
