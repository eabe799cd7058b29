"""Transcripts of the core commands on a real database: the line typed, what each one sees."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kadath.commands.base import Dispatcher
from kadath.commands.info import PARTIAL_WHO
from kadath.commands.table import build_command_table
from kadath.domain.account import Account, Role
from kadath.domain.errors import NotAllowed
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.services.chat import WhoEntry
from kadath.services.messenger import FakeMessenger


@pytest.fixture
async def table(
    persistence: AsyncPersistenceLayer, account: Account, make_player: Any, game_factory: Any
) -> Any:
    game: Any = game_factory(persistence)
    alice = make_player(account, "Alice")
    bob = make_player(account, "Bob")
    admin = make_player(account, "Warden", role=Role.ADMIN)
    for p in (alice, bob, admin):
        await persistence.save_player(p)
        game.presence.enter(p, {p.room_id})
    return game, Dispatcher(build_command_table(), game), alice, bob, admin


def others(game: Any) -> FakeMessenger:
    messenger: FakeMessenger = game.messenger
    return messenger


async def test_say_reaches_the_room_but_not_the_speaker(table: Any) -> None:
    game, dispatch, alice, _bob, _ = table
    reply = await dispatch.dispatch(alice, "say The stars are right")
    assert reply.ok
    assert reply.text == 'You say, "The stars are right"'
    kind, (room, exclude), frame = others(game).sent[-1]
    assert kind == "room"
    assert room == alice.room_id
    assert alice.id in exclude
    assert frame["text"] == 'Alice says, "The stars are right"'


async def test_quote_shortcut_says_and_colon_emotes(table: Any) -> None:
    _game, dispatch, alice, _, _ = table
    assert (await dispatch.dispatch(alice, "'hello")).text == 'You say, "hello"'
    reply = await dispatch.dispatch(alice, ":shivers")
    assert reply.text == "Alice shivers"


async def test_whisper_reaches_only_its_target(table: Any) -> None:
    game, dispatch, alice, bob, _ = table
    reply = await dispatch.dispatch(alice, "whisper bob meet me at the crypt")
    assert reply.ok
    assert others(game).sent[-1][0:2] == ("player", bob.id)
    assert "meet me at the crypt" in others(game).sent[-1][2]["text"]


async def test_whisper_to_nobody_is_refused(table: Any) -> None:
    _, dispatch, alice, _, _ = table
    reply = await dispatch.dispatch(alice, "whisper Nyarlathotep hello")
    assert not reply.ok
    assert "Nobody called" in reply.text


async def test_walking_moves_tells_both_rooms_and_marks_the_position(table: Any) -> None:
    game, dispatch, alice, _, _ = table
    reply = await dispatch.dispatch(alice, "e")
    assert reply.ok
    assert alice.room_id == "town.street"
    texts = [f["text"] for kind, _, f in others(game).sent if kind == "room"]
    assert "Alice leaves east." in texts
    assert "Alice arrives from the west." in texts
    assert game.presence.take_dirty() == [alice]


async def test_walking_where_there_is_no_exit_is_refused(table: Any) -> None:
    _, dispatch, alice, _, _ = table
    reply = await dispatch.dispatch(alice, "north")
    assert not reply.ok
    assert reply.text == "You cannot go that way."
    assert alice.room_id == "town.square"


async def test_first_visit_is_recorded_and_awards_experience(
    table: Any, persistence: AsyncPersistenceLayer
) -> None:
    _, dispatch, alice, _, _ = table
    await dispatch.dispatch(alice, "go east")
    stored = await persistence.get_player_by_id(alice.id)
    assert stored.experience == 5
    await dispatch.dispatch(alice, "w")
    await dispatch.dispatch(alice, "e")
    assert (await persistence.get_player_by_id(alice.id)).experience == 5
    async with persistence.unit_of_work() as uow:
        assert "town.street" in await uow.exploration.visited_rooms(alice.id)


async def test_look_sends_a_room_frame_with_items_and_people(table: Any) -> None:
    game, dispatch, alice, _, _ = table
    reply = await dispatch.dispatch(alice, "look")
    assert reply.ok
    kind, target, frame = others(game).sent[-1]
    assert (kind, target, frame["type"]) == ("player", alice.id, "room")
    assert "Bob" in frame["room"]["players"]
    assert "Alice" not in frame["room"]["players"]
    assert "a brass lantern" in frame["room"]["items"]
    assert "an iron chest" in frame["room"]["containers"]
    assert frame["text"].startswith("The Square")


async def test_look_at_a_player(table: Any) -> None:
    _, dispatch, alice, _, _ = table
    reply = await dispatch.dispatch(alice, "look at bob")
    assert reply.ok
    assert reply.text.startswith("Bob, level 1")


async def test_unknown_commands_and_wrong_usage_get_helpful_replies(table: Any) -> None:
    _, dispatch, alice, _, _ = table
    unknown = await dispatch.dispatch(alice, "xyzzy")
    assert not unknown.ok
    assert "Type 'help'" in unknown.text
    usage = await dispatch.dispatch(alice, "whisper")
    assert not usage.ok
    assert usage.text == "Usage: whisper <player> <message>"
    assert not (await dispatch.dispatch(alice, "go nowhere")).ok


async def test_help_lists_commands_and_explains_one(table: Any) -> None:
    _, dispatch, alice, _, admin = table
    listing = await dispatch.dispatch(alice, "help")
    assert "say" in listing.text
    assert "teleport" not in listing.text
    assert "teleport" in (await dispatch.dispatch(admin, "help")).text
    assert (await dispatch.dispatch(alice, "help say")).text.startswith("Usage: say <message>")
    assert not (await dispatch.dispatch(alice, "help teleport")).ok


async def test_help_explains_every_direction_and_every_command(table: Any) -> None:
    _, dispatch, alice, _, _ = table
    north = await dispatch.dispatch(alice, "help north")
    assert north.ok
    assert north.text.startswith("Usage: north")
    assert "Also: n" in north.text
    for word in ("n", "south", "up", "d", "southwest", "go"):
        assert (await dispatch.dispatch(alice, f"help {word}")).ok, word


async def test_admin_commands_are_refused_to_players_and_hidden_from_their_help(
    table: Any,
) -> None:
    _, dispatch, alice, bob, admin = table
    refused = await dispatch.dispatch(alice, "teleport bob harbour.dock")
    assert not refused.ok
    assert refused.text == "Only admins may use 'teleport'."
    assert bob.room_id != "harbour.dock"
    assert "teleport" not in (await dispatch.dispatch(alice, "help")).text
    assert "teleport" in (await dispatch.dispatch(admin, "help")).text
    moved = await dispatch.dispatch(admin, "teleport bob harbour.dock")
    assert moved.ok
    assert bob.room_id == "harbour.dock"
    assert not (await dispatch.dispatch(admin, "goto nowhere.at.all")).ok
    assert (await dispatch.dispatch(admin, "goto harbour.dock")).ok
    assert admin.room_id == "harbour.dock"


async def test_broadcast_reaches_the_world(table: Any) -> None:
    game, dispatch, _, _, admin = table
    assert (await dispatch.dispatch(admin, "broadcast The gate opens at midnight")).ok
    assert others(game).sent[-1][0] == "world"


async def test_who_score_explored_and_quit(table: Any) -> None:
    _, dispatch, alice, _, _ = table
    who = await dispatch.dispatch(alice, "who")
    assert who.text.startswith("3 in the world")
    assert "Bob" in who.text
    assert "Health 100/100" in (await dispatch.dispatch(alice, "score")).text
    assert "Town" in (await dispatch.dispatch(alice, "explored")).text
    quit_reply = await dispatch.dispatch(alice, "quit")
    assert quit_reply.ok
    assert quit_reply.quit


async def test_a_command_that_crashes_gets_a_generic_reply(table: Any) -> None:
    game, _, alice, _, _ = table

    async def broken(_player: object, _word: str) -> str:
        raise RuntimeError("boom")

    dispatch = Dispatcher(build_command_table(examine=broken), game)
    reply = await dispatch.dispatch(alice, "look at lantern")
    assert not reply.ok
    assert "went wrong" in reply.text
    assert dispatch.handled >= 1


async def test_look_sees_a_change_committed_after_the_room_was_cached(
    table: Any, persistence: AsyncPersistenceLayer
) -> None:
    from kadath.domain.item import InInventory, OnFloor

    game, dispatch, alice, bob, _ = table
    await dispatch.dispatch(alice, "look")
    assert "a brass lantern" in game.messenger.sent[-1][2]["room"]["items"]
    lantern = next(
        i for i in await persistence.items_at(OnFloor(alice.room_id)) if i.prototype_id == "lantern"
    )
    await persistence.transfer_item(lantern.id, OnFloor(alice.room_id), InInventory(bob.id))
    await dispatch.dispatch(alice, "look")
    assert "a brass lantern" not in game.messenger.sent[-1][2]["room"]["items"]


async def test_a_read_only_unit_of_work_does_not_wait_for_a_writer(
    persistence: AsyncPersistenceLayer,
) -> None:
    import asyncio

    from kadath.domain.item import OnFloor

    async with persistence.unit_of_work() as writer:
        await writer.items.create_item("coin", OnFloor("town.street"))
        # The writer holds the write lock (SQLite) until it commits; a reader must not wait.
        async with asyncio.timeout(3):
            async with persistence.reading() as reader:
                seen = await reader.items.items_at(OnFloor("town.street"))
    assert all(i.prototype_id != "coin" for i in seen)  # and it does not see uncommitted work


async def test_a_first_visit_updates_the_vitals_bar(table: Any) -> None:
    game, dispatch, alice, _, _ = table
    await dispatch.dispatch(alice, "e")
    states = [
        f for kind, who, f in game.messenger.sent if kind == "player" and f["type"] == "state"
    ]
    assert states and states[-1]["vitals"]["experience"] == 5


class Elsewhere:
    """Another process of a cluster, as ``ChatService.elsewhere`` sees it: one character."""

    def __init__(self, entry: Any, complete: bool) -> None:
        self.entry, self.complete = entry, complete
        self.whispers: list[tuple[str, str, str]] = []
        self.broadcasts: list[tuple[str, str]] = []

    async def who(self) -> tuple[list[Any], bool]:
        return [self.entry], self.complete

    async def whisper(self, speaker: Any, target_name: str, text: str) -> str | None:
        if not self.entry.name.casefold().startswith(target_name.casefold()):
            return None
        self.whispers.append((speaker.name, target_name, text))
        return f'You whisper to {self.entry.name}, "{text}"'

    async def broadcast(self, text: str, sender: str) -> None:
        self.broadcasts.append((text, sender))


@pytest.mark.parametrize("complete", [True, False])
async def test_who_in_a_cluster_merges_the_other_processes_by_name(
    table: Any, complete: bool
) -> None:
    game, dispatch, alice, bob, _ = table
    # Bob is listed by the other process too (mid hand-over): he is listed once.
    twin = WhoEntry(bob.id, bob.name, bob.level, bob.room_id)
    game.chat.elsewhere = Elsewhere(WhoEntry(uuid.uuid4(), "Carter", 3, alice.room_id), complete)
    game.chat.elsewhere.who = _also(game.chat.elsewhere.who, twin)
    who = (await dispatch.dispatch(alice, "who")).text
    names = [line.split()[0] for line in who.splitlines()[1:] if line.startswith("  ")]
    assert who.startswith("4 in the world")
    assert names == ["Alice", "Bob", "Carter", "Warden"]
    assert (PARTIAL_WHO in who) is not complete


def _also(who: Any, extra: WhoEntry) -> Any:
    async def both() -> tuple[list[Any], bool]:
        entries, complete = await who()
        return [*entries, extra], complete

    return both


async def test_whisper_in_a_cluster_asks_the_other_processes_when_nobody_here_matches(
    table: Any,
) -> None:
    game, dispatch, alice, _bob, _ = table
    elsewhere = Elsewhere(WhoEntry(uuid.uuid4(), "Carter", 3, alice.room_id), True)
    game.chat.elsewhere = elsewhere
    reply = await dispatch.dispatch(alice, "whisper carter  the\tkey ")
    assert (reply.ok, reply.text) == (True, 'You whisper to Carter, "the key"')
    assert elsewhere.whispers == [("Alice", "carter", "the key")]
    assert (await dispatch.dispatch(alice, "whisper bob hi")).ok  # here first: not asked
    assert len(elsewhere.whispers) == 1
    nobody = await dispatch.dispatch(alice, "whisper Nyarlathotep hello")
    assert not nobody.ok and "Nobody called" in nobody.text


async def test_a_whisper_from_another_process_is_delivered_or_refused_by_the_target_s(
    table: Any,
) -> None:
    game, _dispatch, alice, bob, _ = table
    stranger = uuid.uuid4()
    assert game.chat.whisper_from(stranger, "Carter", "Nyarlathotep", "hi") is None
    assert game.chat.whisper_from(stranger, "Carter", "bo", "hi") == 'You whisper to Bob, "hi"'
    assert others(game).sent[-1][0:2] == ("player", bob.id)
    assert others(game).sent[-1][2]["text"] == 'Carter whispers to you, "hi"'
    with pytest.raises(NotAllowed, match="mutter"):
        game.chat.whisper_from(alice.id, "Alice", "alice", "hi")


async def test_a_broadcast_in_a_cluster_goes_to_the_other_processes_too(table: Any) -> None:
    game, dispatch, alice, _, admin = table
    elsewhere = Elsewhere(WhoEntry(uuid.uuid4(), "Carter", 3, alice.room_id), True)
    game.chat.elsewhere = elsewhere
    assert not (await dispatch.dispatch(alice, "broadcast Hear me")).ok
    assert (await dispatch.dispatch(admin, "broadcast The  gate opens")).ok
    assert others(game).sent[-1][0] == "world"
    assert elsewhere.broadcasts == [("The gate opens", "Warden")]
    game.chat.broadcast_from("From afar", "Curwen")
    assert others(game).sent[-1][0] == "world"
    assert others(game).sent[-1][2]["text"] == "[Broadcast] From afar"
