"""Every command in the server's table, typed with odd arguments on a real database: each one
answers with a sentence (or a frame), never with the generic "something went wrong" line.

The table is the one the server wires (``bootstrap._wire``), so new commands are fuzzed too.
Arguments are a fixed sweep of known-bad inputs plus reproducible hypothesis draws, made
outside the event loop as tests/web/test_openapi_fuzz.py does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kadath.bootstrap import _wire
from kadath.commands.base import Command, Dispatcher, Reply
from kadath.commands.movement import SHORTCUTS
from kadath.domain.account import Role
from kadath.domain.item import InInventory
from kadath.domain.player import Player
from kadath.domain.world import Direction
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.services.auth import PasswordHasher
from kadath.settings import Settings
from kadath.web.runtime import Runtime

GENERIC = "went wrong"
MAX_LINE = Settings.model_fields["max_line_length"].default
ORDINALS = [
    "².coin",
    "٣.coin",
    "𝟚.coin",
    "0.x",
    "-1.x",
    "99999999999999999999.x",
    "9" * 5000 + ".x",
]
ODD = [
    "",
    " ",
    ".",
    "..",
    "all",
    "all.",
    "all.coin",
    "from",
    "in",
    "at",
    "coin from",
    "coin in",
    "all from chest",
    "all in satchel",
    "reset",
    "\x00",
    "\x1b[31mred",
    "\u202eevil\u202c",
    "\u200b",
    "a\nb",
    "\t",
    "\U0001f419",
    "x" * MAX_LINE,
    "é" * MAX_LINE,
    "town.square",
    "nowhere.at.all",
    "%s %d {0}",
]
DIRECTIONS = [d.value for d in Direction] + list(SHORTCUTS)
SAFE_ROOM, PVP_ROOM = "town.square", "harbour.dock"
THINGS = ["lantern", "coin", "silver", "razor", "satchel", "key", "chest", "crate", "corpse"]


@dataclass
class World:
    dispatcher: Dispatcher
    admin: Player
    player: Player
    runtime: Runtime

    @property
    def commands(self) -> list[Command]:
        return list(self.dispatcher.table.ordered)


@pytest.fixture
async def world(
    persistence: AsyncPersistenceLayer, account: Any, make_player: Any
) -> AsyncIterator[World]:
    config = Settings(_env_file=None, npc_spawning=False)  # type: ignore[call-arg]
    hasher = PasswordHasher(1, 1, 1024)
    runtime = _wire(config, persistence, hasher, "a-fuzzing-secret-long-enough-0123456789")
    admin = make_player(account, "Warden", role=Role.ADMIN)
    player = make_player(account, "Alice")
    for someone in (admin, player):
        await persistence.save_player(someone)
        runtime.game.presence.enter(someone, {someone.room_id})
    async with persistence.unit_of_work() as uow:
        for holder in (admin, player):
            for prototype in ("coin", "coin", "razor", "satchel", "brass_key", "lantern"):
                await uow.items.create_item(prototype, InInventory(holder.id))
    try:
        yield World(runtime.dispatcher, admin, player, runtime)
    finally:
        hasher.close()


def argument_sweep(names: list[str]) -> list[str]:
    """Every fixed odd argument, alone and around a thing's name."""
    words = ORDINALS + ODD + DIRECTIONS + THINGS + names
    combined = [f"{o} from chest" for o in ORDINALS] + [f"coin in {o}" for o in ORDINALS]
    combined += [f"{name} {o}" for name in names for o in ORDINALS[:2]]
    return words + combined


def drawn_arguments(names: list[str], count: int) -> list[str]:
    """Reproducible hypothesis draws: words from the odd pools and arbitrary unicode, joined."""
    word = st.one_of(
        st.sampled_from(ORDINALS + ODD + DIRECTIONS + THINGS + names),
        st.text(max_size=20),
        st.builds(
            lambda n, w: f"{n}.{w}",
            st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=3),
            st.sampled_from(THINGS),
        ),
        st.integers().map(str),
    )
    drawn: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.lists(word, max_size=4).map(" ".join))
    def collect(args: str) -> None:
        drawn.append(args)

    collect()
    return drawn


def failures(line: str, reply: Reply) -> list[str]:
    if GENERIC in reply.text:
        return [f"{line[:80]!r} -> {reply.text!r}"]
    if not reply.ok and not reply.text.strip():
        return [f"{line[:80]!r} -> a refusal without a sentence"]
    return []


async def run_everything(world: World, lines: list[str], room: str = SAFE_ROOM) -> list[str]:
    found: list[str] = []
    for command in world.commands:
        for who in (world.admin, world.player):
            await move(world, who, room)
            for args in lines:
                line = f"{command.names[0]} {args}"[: MAX_LINE + 8]
                found += failures(line, await world.dispatcher.dispatch(who, line))
    return found


async def move(world: World, who: Player, room: str) -> None:
    """Undo the wandering (goto, teleport, walking) so every command sees the same room."""
    reply = await world.dispatcher.dispatch(world.admin, f"teleport {who.name} {room}")
    assert reply.ok or "already" in reply.text, reply.text


@pytest.mark.parametrize("room", [SAFE_ROOM, PVP_ROOM])
async def test_every_command_answers_every_odd_argument_with_a_sentence(
    world: World, room: str
) -> None:
    names = [world.admin.name, world.player.name, "warden", "ali"]
    found = await run_everything(world, argument_sweep(names), room)
    assert not found, "\n".join(found[:40])


async def test_every_command_answers_drawn_arguments_with_a_sentence(world: World) -> None:
    names = [world.admin.name, world.player.name]
    found = await run_everything(world, drawn_arguments(names, 60))
    assert not found, "\n".join(found[:40])


async def test_the_fuzzed_table_is_the_whole_table(world: World) -> None:
    names = {c.names[0] for c in world.commands}
    assert {"get", "help", "north", "attack", "spawn", "slay", "teleport", "quit"} <= names


async def test_odd_whole_lines_are_answered_with_a_sentence(world: World) -> None:
    lines = ORDINALS + ODD + ["'", '"', ":", "' ", ": \u202e", "\u00a0look", "LOOK", "LoOk ².COIN"]
    lines += [f"{prefix}{odd}" for prefix in ("'", ":", "he", "g", "x") for odd in ORDINALS[:3]]
    found: list[str] = []
    for who in (world.admin, world.player):
        for line in lines:
            found += failures(line, await world.dispatcher.dispatch(who, line))
    assert not found, "\n".join(found[:40])
