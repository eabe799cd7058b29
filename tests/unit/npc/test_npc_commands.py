"""Admin NPC commands, as transcripts: the line typed, the reply, what the room sees."""

from __future__ import annotations

import pytest
from npc_fakes import make_game, make_player, room_texts

from kadath.commands.base import Dispatcher
from kadath.commands.table import build_command_table
from kadath.domain.account import Role
from kadath.npc.install import install_npcs
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop


@pytest.fixture
def world_of_npcs() -> tuple[Game, Dispatcher]:
    game = make_game()
    commands = install_npcs(game, GameLoop(), spawning=False).commands
    return game, Dispatcher(build_command_table(*commands), game)


async def test_spawn_calls_an_npc_into_the_admins_room(
    world_of_npcs: tuple[Game, Dispatcher],
) -> None:
    game, dispatcher = world_of_npcs
    admin = make_player("town.alley", "Warden")
    admin.role = Role.ADMIN

    reply = await dispatcher.dispatch(admin, "spawn ghoul")

    assert (reply.ok, reply.text) == (True, "You call forth a hunched ghoul.")
    assert [n.name for n in game.npcs.in_room("town.alley")] == ["a hunched ghoul"]
    assert "A hunched ghoul appears." in room_texts(game, "town.alley")


async def test_spawn_refuses_an_unknown_npc(world_of_npcs: tuple[Game, Dispatcher]) -> None:
    _, dispatcher = world_of_npcs
    admin = make_player("town.alley", "Warden")
    admin.role = Role.ADMIN

    reply = await dispatcher.dispatch(admin, "spawn shoggoth")

    assert (reply.ok, reply.text) == (False, "There is no NPC called 'shoggoth'.")


async def test_players_cannot_spawn(world_of_npcs: tuple[Game, Dispatcher]) -> None:
    game, dispatcher = world_of_npcs

    reply = await dispatcher.dispatch(make_player("town.alley"), "spawn ghoul")

    assert not reply.ok
    assert len(game.npcs) == 0


async def test_npcs_lists_counts_and_details(world_of_npcs: tuple[Game, Dispatcher]) -> None:
    _, dispatcher = world_of_npcs
    admin = make_player("yard.gate", "Warden")
    admin.role = Role.ADMIN
    await dispatcher.dispatch(admin, "spawn ghoul")
    await dispatcher.dispatch(admin, "spawn ghoul")
    await dispatcher.dispatch(admin, "spawn rat")

    summary = await dispatcher.dispatch(admin, "npcs")
    detail = await dispatcher.dispatch(admin, "npcs rat")

    assert summary.text.splitlines() == [
        "3 NPCs alive, 0 waiting to respawn.",
        "  ghoul: 2",
        "  rat: 1",
    ]
    assert detail.text.splitlines()[1:] == ["  a rat [idle, 20 hp] in yard.gate"]


async def test_despawn_removes_an_npc_from_the_room(
    world_of_npcs: tuple[Game, Dispatcher],
) -> None:
    game, dispatcher = world_of_npcs
    admin = make_player("yard.gate", "Warden")
    admin.role = Role.ADMIN
    await dispatcher.dispatch(admin, "spawn rat")

    gone = await dispatcher.dispatch(admin, "despawn rat")
    missing = await dispatcher.dispatch(admin, "despawn rat")

    assert gone.text == "A rat is gone."
    assert (missing.ok, missing.text) == (False, "You see no 'rat' here.")
    assert len(game.npcs) == 0
