"""Channels and ignoring with fakes: who hears a message, settings and ignores that persist,
the speech guard and cleaning, and history written behind."""

from __future__ import annotations

import asyncio

import pytest
from channel_fakes import ChannelWorld, channel_world

from kadath.domain.channel import Membership
from kadath.domain.errors import InvalidInput, NotAllowed, NotFound, PlayerNotFound
from kadath.domain.player import Player


@pytest.fixture
def world() -> ChannelWorld:
    return channel_world()


async def test_a_message_reaches_everyone_on_the_channel_but_leavers_muters_and_ignorers(
    world: ChannelWorld,
) -> None:
    alice, eve, bob, carol, dave = [
        await world.enter(n) for n in ("Alice", "Eve", "Bob", "Carol", "Dave")
    ]
    await world.channels.leave(bob, "ooc")
    await world.channels.mute(carol, "ooc")
    await world.ignores.ignore(dave, "alice")

    reply = await world.channels.speak(alice, "OOC", "Is anyone awake?")

    assert reply == ""  # the speaker reads the channel frame like everyone else
    frame = {"type": "channel", "channel": "ooc", "from": "Alice", "text": "Is anyone awake?"}
    assert world.channel_frames_for(alice) == [frame]
    assert world.channel_frames_for(eve) == [frame]
    for deaf in (bob, carol, dave):
        assert world.channel_frames_for(deaf) == [], deaf.name


async def test_characters_out_of_play_hear_nothing(world: ChannelWorld) -> None:
    alice, bob = await world.enter("Alice"), await world.enter("Bob")
    await world.leave(bob)

    await world.channels.speak(alice, "newbie", "hello?")

    assert world.channel_frames_for(bob) == []


async def test_speaking_needs_the_channel_joined_and_unmuted(world: ChannelWorld) -> None:
    alice = await world.enter("Alice")
    await world.channels.leave(alice, "ooc")
    with pytest.raises(NotAllowed, match="channel join ooc"):
        await world.channels.speak(alice, "ooc", "hi")
    await world.channels.join(alice, "ooc")
    await world.channels.mute(alice, "ooc")
    with pytest.raises(NotAllowed, match="channel unmute ooc"):
        await world.channels.speak(alice, "ooc", "hi")
    with pytest.raises(NotFound):
        await world.channels.speak(alice, "gossip", "hi")
    assert world.messenger.sent == []


async def test_the_staff_channel_is_for_admins_who_are_on_it_by_default(
    world: ChannelWorld,
) -> None:
    alice, keeper = await world.enter("Alice"), await world.enter("Keeper", admin=True)

    with pytest.raises(NotAllowed, match="staff only"):
        await world.channels.join(alice, "builders")
    with pytest.raises(NotAllowed):
        await world.channels.speak(alice, "staff", "let me in")
    with pytest.raises(NotAllowed):
        await world.channels.history(alice, "builders", 5)
    assert [m.channel for m in await world.channels.listing(alice)] == ["ooc", "newbie"]

    await world.channels.speak(keeper, "staff", "crypt reload at noon")
    assert [f["channel"] for f in world.channel_frames_for(keeper)] == ["builders"]
    assert world.channel_frames_for(alice) == []


async def test_settings_are_stored_and_come_back_when_the_character_returns(
    world: ChannelWorld,
) -> None:
    bob = await world.enter("Bob")
    await world.channels.leave(bob, "newbie")
    await world.channels.mute(bob, "ooc")
    await world.leave(bob)
    await world.come_back(bob)

    assert await world.channels.listing(bob) == [
        Membership("ooc", joined=True, muted=True),
        Membership("newbie", joined=False),
    ]


async def test_a_setting_the_database_refused_is_not_kept(world: ChannelWorld) -> None:
    bob = await world.enter("Bob")
    world.store.down = True

    with pytest.raises(Exception, match="does not answer"):
        await world.channels.leave(bob, "ooc")

    world.store.down = False
    assert (await world.channels.listing(bob))[0] == Membership("ooc", joined=True)


async def test_settings_the_outage_kept_from_loading_are_loaded_on_first_use(
    world: ChannelWorld,
) -> None:
    alice, bob = await world.enter("Alice"), await world.enter("Bob")
    await world.channels.leave(bob, "newbie")
    await world.leave(bob)
    world.store.down = True
    await world.come_back(bob)  # the loader fails (logged); Bob is not tuned in yet
    await world.channels.speak(alice, "ooc", "hi")
    assert world.channel_frames_for(bob) == []
    world.store.down = False

    assert (await world.channels.listing(bob))[1] == Membership("newbie", joined=False)
    await world.channels.speak(alice, "ooc", "and now?")
    assert len(world.channel_frames_for(bob)) == 1


async def test_channel_speech_is_cleaned_like_say(world: ChannelWorld) -> None:
    alice = await world.enter("Alice")

    await world.channels.speak(alice, "ooc", "look\x1b[2J \u202eright\x9b31m  here")

    assert world.channel_frames_for(alice)[0]["text"] == "look [2J right 31m here"
    with pytest.raises(InvalidInput, match="too long"):
        await world.channels.speak(alice, "ooc", "a" * 501)
    with pytest.raises(InvalidInput):
        await world.channels.speak(alice, "ooc", "\x07\u200e ")


async def test_the_speech_guard_refuses_channels_say_emote_and_whisper() -> None:
    def muted(player: Player) -> None:
        if player.name == "Alice":
            raise NotAllowed("You are muted for 4 more minutes.")

    world = channel_world(can_speak=muted)
    alice, bob = await world.enter("Alice"), await world.enter("Bob")

    for speak in (
        world.channels.speak(alice, "ooc", "hi"),
        world.chat.say(alice, "hi"),
    ):
        with pytest.raises(NotAllowed, match="4 more minutes"):
            await speak
    with pytest.raises(NotAllowed):
        world.chat.emote(alice, "waves")
    with pytest.raises(NotAllowed):
        world.chat.whisper(alice, "Bob", "psst")
    assert world.messenger.sent == []
    assert world.history.recent("ooc", 10) == []
    await world.channels.speak(bob, "ooc", "I may")
    assert len(world.channel_frames_for(alice)) == 1


async def test_ignoring_silences_say_emote_and_whisper_and_persists(world: ChannelWorld) -> None:
    alice, dave, eve = [await world.enter(n) for n in ("Alice", "Dave", "Eve")]
    assert "You ignore Alice" in await world.ignores.ignore(dave, "alice")

    await world.chat.say(alice, "hello")
    world.chat.emote(alice, "waves")
    with pytest.raises(NotAllowed, match="Dave is not listening"):
        world.chat.whisper(alice, "dave", "psst")
    rooms = [to for kind, to, _ in world.messenger.sent if kind == "room"]
    assert rooms == [("town.square", frozenset({alice.id, dave.id}))] * 2
    world.chat.whisper(alice, "eve", "psst")  # others still hear
    assert world.messenger.sent[-1][1] == eve.id

    await world.leave(dave)
    assert world.ignores.ignorers_of(alice.id) == set()
    await world.come_back(dave)
    assert await world.ignores.listing(dave) == ["Alice"]
    assert world.ignores.ignorers_of(alice.id) == {dave.id}
    assert await world.ignores.unignore(dave, "ALICE") == "You hear Alice again."
    assert world.ignores.ignorers_of(alice.id) == set()
    assert await world.ignores.listing(dave) == []


async def test_ignore_refuses_yourself_and_unknown_names_and_finds_offline_characters(
    world: ChannelWorld,
) -> None:
    dave, gone = await world.enter("Dave"), await world.enter("Wilbur")
    await world.leave(gone)

    with pytest.raises(NotAllowed):
        await world.ignores.ignore(dave, "Dave")
    with pytest.raises(PlayerNotFound):
        await world.ignores.ignore(dave, "Nobody")
    with pytest.raises(PlayerNotFound):
        await world.ignores.unignore(dave, "Wilbur")
    await world.ignores.ignore(dave, "Wilbur")
    assert await world.ignores.listing(dave) == ["Wilbur"]


async def test_history_shows_the_latest_less_the_ignored_and_refuses_silly_counts(
    world: ChannelWorld,
) -> None:
    alice, bob, dave = [await world.enter(n) for n in ("Alice", "Bob", "Dave")]
    for n in range(5):
        await world.channels.speak(alice if n % 2 else bob, "ooc", f"m{n}")
    await world.ignores.ignore(dave, "Alice")

    assert [m.text for m in await world.channels.history(bob, "ooc", 3)] == ["m2", "m3", "m4"]
    assert [m.text for m in await world.channels.history(dave, "ooc", 5)] == ["m0", "m2", "m4"]
    with pytest.raises(InvalidInput):
        await world.channels.history(bob, "ooc", 101)


async def test_history_is_stored_behind_trimmed_to_what_is_kept_and_loaded_again() -> None:
    world = channel_world(kept=3)
    alice = await world.enter("Alice")
    for n in range(5):
        await world.channels.speak(alice, "ooc", f"m{n}")
    assert world.store.rows.messages == []  # nobody waited on the database

    world.store.down = True
    with pytest.raises(Exception, match="does not answer"):
        await world.history.flush()
    world.store.down = False
    await world.channels.speak(alice, "newbie", "n0")
    assert world.history.unsaved == 4  # at most ``kept`` per channel wait

    assert await world.history.flush() == 4
    assert [m.text for m in world.store.rows.messages] == ["m2", "m3", "m4", "n0"]
    assert world.history.unsaved == 0
    assert await world.history.flush() == 0

    again = channel_world(kept=3)
    again.store.rows = world.store.rows
    assert await again.history.load() == 4
    assert [m.text for m in again.history.recent("ooc", 10)] == ["m2", "m3", "m4"]


async def test_a_flush_cancelled_after_its_commit_is_not_stored_twice() -> None:
    world = channel_world()
    alice = await world.enter("Alice")
    await world.channels.speak(alice, "ooc", "once")
    world.store.after_commit = asyncio.Event()

    periodic = asyncio.create_task(world.history.flush())
    for _ in range(5):  # let it run up to its commit
        await asyncio.sleep(0)
    assert world.store.rows.messages
    periodic.cancel()  # shutdown stops the periodic task, its batch already committed
    final = asyncio.create_task(world.history.flush())
    await asyncio.sleep(0)
    world.store.after_commit.set()

    assert await final == 0
    assert [m.text for m in world.store.rows.messages] == ["once"]
