"""A room's fan-out reaches exactly the sessions of the characters in it (the Hub keeps each
room's sessions between fan-outs): after arrivals, departures, moves, a session replaced, a
connection dropped, a character kicked, and with the exclusions given by value."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from testkit import player_named

from kadath.domain.player import Player
from kadath.realtime.hub import Hub
from kadath.realtime.session import Session
from kadath.services.presence import Presence


class QuietTransport:
    """Takes nothing: the sessions are never started, their frames stay queued."""

    remote = "test"

    async def receive_text(self) -> str:
        raise AssertionError("not read")

    async def send_frames(self, batch: object) -> None:
        raise AssertionError("not started")

    def use_batches(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass

    def abort(self) -> None:
        pass


def reached(
    hub: Hub, sessions: list[Session], room: str, exclude: Iterable[uuid.UUID] = ()
) -> set[Session]:
    """The sessions a room's frame was queued for."""
    before = {s: s.backlog for s in sessions}
    hub.to_room(room, {"type": "message", "text": "hi"}, exclude=list(exclude))
    return {s for s in sessions if s.backlog > before[s]}


def expected(
    hub: Hub, presence: Presence, room: str, exclude: Iterable[uuid.UUID] = ()
) -> set[Session]:
    """Found afresh: the sessions of the characters in the room, less the excluded."""
    skip = set(exclude)
    found = {hub.session_for(p) for p in presence.ids_in_room(room) if p not in skip}
    return {s for s in found if s is not None}


def connect(hub: Hub, player: Player, sessions: list[Session]) -> Session:
    session = Session(QuietTransport(), None, player.id)  # type: ignore[arg-type]
    hub.attach(session)
    sessions.append(session)
    return session


async def test_a_rooms_fan_out_follows_every_change() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=30)
    sessions: list[Session] = []
    alice, bob, carol = (player_named(n) for n in ("Alice", "Bob", "Carol"))
    for player in (alice, bob, carol):
        presence.enter(player)
    a, b, c = (connect(hub, p, sessions) for p in (alice, bob, carol))
    square = alice.room_id

    def check(room: str, *exclude: uuid.UUID) -> set[Session]:
        got = reached(hub, sessions, room, exclude)
        assert got == expected(hub, presence, room, exclude)
        return got

    assert check(square, alice.id) == {b, c}
    assert check(square, alice.id) == {b, c}  # kept, and still right
    presence.move(carol, "town.well")
    assert check(square) == {a, b}
    assert check("town.well") == {c}
    b2 = connect(hub, bob, sessions)  # Bob connects again: the old session is replaced
    assert check(square) == {a, b2}
    hub.detach(a, quit_now=False)  # Alice's connection drops (she stays in the world a while)
    assert check(square) == {b2}
    presence.leave(bob.id)
    assert check(square) == set()
    dan = player_named("Dan")
    presence.enter(dan)
    assert check(square) == set()  # in the room, not connected
    d = connect(hub, dan, sessions)
    assert check(square) == {d}
    assert check(square, uuid.UUID(str(dan.id))) == set()  # excluded by value, not identity
    presence.move(carol, square)
    assert check(square, dan.id) == {c}
    hub.disconnect(carol.id, "Kicked.")
    assert check(square) == {d}
    await hub.shutdown()
    assert check(square) == set()
