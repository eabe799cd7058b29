from __future__ import annotations

import asyncio
import json
import uuid

from testkit import player_named

from kadath.domain.account import Account
from kadath.realtime.hub import Hub
from kadath.realtime.protocol import CLOSE_REPLACED
from kadath.realtime.session import Session
from kadath.realtime.transport import TransportClosed
from kadath.services.presence import Presence


class FakeTransport:
    def __init__(self, *, fail: bool = False) -> None:
        self.remote = "test"
        self.sent: list[dict[str, object]] = []
        self.closed: tuple[int, str] | None = None
        self.fail = fail

    async def receive_text(self) -> str:
        raise TransportClosed

    async def send_text(self, text: str) -> None:
        if self.fail:
            raise TransportClosed
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


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
    await hub.shutdown("bye")
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
    await hub.shutdown("bye")
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
    await hub.shutdown("bye")
