"""Channels in a cluster, with fakes: a line said here is handed to ``elsewhere`` once allowed;
a line heard from another process reaches this process's listeners (not leavers, muters,
ignorers or non-staff) and the history in time order, without being stored here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from channel_fakes import ChannelWorld, channel_world

from kadath.domain.channel import ChannelMessage
from kadath.domain.errors import NotAllowed, NotFound

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)


class Elsewhere:
    def __init__(self) -> None:
        self.lines: list[ChannelMessage] = []

    async def said(self, message: ChannelMessage) -> None:
        self.lines.append(message)


@pytest.fixture
def world() -> ChannelWorld:
    return channel_world()


def line(text: str, at: datetime = AT, channel: str = "ooc") -> ChannelMessage:
    return ChannelMessage(channel, uuid.uuid4(), "Faraway", text, at)


async def test_a_line_said_here_is_told_elsewhere_once_it_is_allowed(world: ChannelWorld) -> None:
    elsewhere = Elsewhere()
    world.channels.elsewhere = elsewhere
    alice = await world.enter("Alice")
    await world.channels.speak(alice, "ooc", "  Is anyone   awake? ")
    await world.channels.mute(alice, "newbie")
    with pytest.raises(NotAllowed):
        await world.channels.speak(alice, "newbie", "hi")
    assert [(m.channel, m.sender, m.text) for m in elsewhere.lines] == [
        ("ooc", "Alice", "Is anyone awake?")
    ]


async def test_a_line_heard_from_elsewhere_reaches_only_the_listeners_here(
    world: ChannelWorld,
) -> None:
    eve, bob, carol, dave = [await world.enter(n) for n in ("Eve", "Bob", "Carol", "Dave")]
    await world.channels.leave(bob, "ooc")
    await world.channels.mute(carol, "ooc")
    faraway = await world.enter("Faraway")
    await world.leave(faraway)  # in play on another process
    await world.ignores.ignore(dave, "Faraway")
    far = ChannelMessage("ooc", faraway.id, "Faraway", "Hello from afar.", AT)

    world.channels.heard(far)

    frame = {"type": "channel", "channel": "ooc", "from": "Faraway", "text": "Hello from afar."}
    assert world.channel_frames_for(eve) == [frame]
    for deaf in (bob, carol, dave):
        assert world.channel_frames_for(deaf) == [], deaf.name
    admin = await world.enter("Root", admin=True)
    world.channels.heard(line("Staff only.", channel="builders"))
    assert [f["text"] for f in world.channel_frames_for(admin)] == ["Staff only."]
    assert world.channel_frames_for(eve) == [frame]
    with pytest.raises(NotFound):
        world.channels.heard(line("?", channel="gossip"))


async def test_lines_heard_are_kept_in_the_order_said_and_not_stored_here(
    world: ChannelWorld,
) -> None:
    alice = await world.enter("Alice")
    await world.channels.speak(alice, "ooc", "mine")  # said at the fake clock's time
    said_at = (await world.channels.history(alice, "ooc", 1))[0].sent_at
    world.channels.heard(line("later", said_at + timedelta(seconds=2)))
    world.channels.heard(line("earlier", said_at - timedelta(seconds=1)))
    world.channels.heard(line("between", said_at + timedelta(seconds=1)))

    history = await world.channels.history(alice, "ooc", 10)
    assert [m.text for m in history] == ["earlier", "mine", "between", "later"]
    assert await world.history.flush() == 1
    assert [m.text for m in world.store.rows.messages] == ["mine"]


async def test_a_line_older_than_everything_kept_is_dropped_when_the_history_is_full() -> None:
    world = channel_world(kept=2)
    alice = await world.enter("Alice")
    for second in (10, 20):
        world.channels.heard(line(f"at {second}", AT + timedelta(seconds=second)))
    world.channels.heard(line("too old", AT))
    world.channels.heard(line("at 15", AT + timedelta(seconds=15)))
    assert [m.text for m in await world.channels.history(alice, "ooc", 2)] == ["at 15", "at 20"]
