"""NPC tick benchmark: p50/p99 of the behaviour and emote steps with many NPCs (default 500).

    uv run python bench/npc_tick.py [--npcs 500] [--ticks 300] [--seconds 10]

A generated world (zones of rooms in a ring), wandering NPCs, a few players, a messenger that
only counts frames. Bounded in ticks and in time. One JSON document goes to stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kadath.domain.player import Player
from kadath.domain.rng import RandomRng
from kadath.domain.stats import Stats
from kadath.domain.world import Dialogue, Direction, NpcDefinition, NpcKind, Room, World, Zone
from kadath.npc.behaviour import NpcBrain
from kadath.npc.dialogue import NpcDialogue
from kadath.npc.spawner import NpcSpawner
from kadath.npc.territory import Territory
from kadath.services.chat import ChatService
from kadath.services.clock import FakeClock
from kadath.services.events import LocalEventBus
from kadath.services.game import Game
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber

ZONES, ROOMS_PER_ZONE, PLAYERS = 10, 20, 50


class CountingMessenger:
    def __init__(self) -> None:
        self.frames = 0

    def to_player(self, player_id: uuid.UUID, frame: dict[str, Any]) -> None:
        self.frames += 1

    def to_room(
        self, room_id: str, frame: dict[str, Any], *, exclude: Iterable[uuid.UUID] = ()
    ) -> None:
        self.frames += 1

    def to_world(self, frame: dict[str, Any]) -> None:
        self.frames += 1

    def to_players(self, player_ids: Iterable[uuid.UUID], frame: dict[str, Any]) -> None:
        self.frames += 1


def no_database() -> Any:
    raise AssertionError("the NPC tick opened a unit of work")


def build_world() -> World:
    rooms: dict[str, Room] = {}
    for z in range(ZONES):
        for r in range(ROOMS_PER_ZONE):
            east, west = (r + 1) % ROOMS_PER_ZONE, (r - 1) % ROOMS_PER_ZONE
            exits = {Direction.EAST: f"z{z}.r{east}", Direction.WEST: f"z{z}.r{west}"}
            rooms[f"z{z}.r{r}"] = Room(f"z{z}.r{r}", f"z{z}", "A room", "Bare.", exits=exits)
    zones = {f"z{z}": Zone(f"z{z}", f"Zone {z}", "A zone.") for z in range(ZONES)}
    npc = NpcDefinition(
        "walker", "a walker", "Walks.", ("walker",), NpcKind.AGGRESSIVE, 1, 10, {}, 1, (1, 2),
        dialogue=Dialogue(emotes=("stares.", "mutters.")),
        wander_chance=0.2, wander_min_interval=2.0,
    )  # fmt: skip
    return World(zones, rooms, {}, {}, {"walker": npc}, (), "z0.r0")


def build_game() -> Game:
    world, presence, roster = build_world(), Presence(), NpcRoster()
    messenger, bus, rng = CountingMessenger(), LocalEventBus(), RandomRng(1)
    return Game(
        world, presence, roster, messenger, bus, FakeClock(), rng, no_database, no_database,
        RoomDescriber(world, presence, roster, no_database, rng),
        MovementService(world, presence, messenger, bus, no_database),
        ChatService(presence, messenger, bus),
    )  # fmt: skip


def add_players(game: Game, rooms: list[str]) -> None:
    for i in range(PLAYERS):
        room = rooms[(i * 7) % len(rooms)]
        player = Player(
            uuid.uuid4(), uuid.uuid4(), f"Player{i}", room, room,
            Stats(12, 12, 12, 12, 12, 12), 50, 50, 1,
        )  # fmt: skip
        game.presence.enter(player)


async def measure(
    step: Callable[[float], Awaitable[None]], clock: FakeClock, ticks: int, deadline: float
) -> dict[str, float]:
    """Wall time and CPU time of each run: on a busy machine they tell scheduling from work."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(ticks):
        if time.perf_counter() > deadline:
            break
        clock.advance(1.0)
        started, cpu_started = time.perf_counter(), time.thread_time()
        await step(clock.monotonic())
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - cpu_started)
    wall.sort()
    cpu.sort()

    def pct(values: list[float], q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 3)

    return {
        "ticks": len(wall),
        "p50_ms": pct(wall, 0.5),
        "p99_ms": pct(wall, 0.99),
        "cpu_p50_ms": pct(cpu, 0.5),
        "cpu_p99_ms": pct(cpu, 0.99),
    }


async def main(npcs: int, ticks: int, seconds: float) -> dict[str, Any]:
    game = build_game()
    territory = Territory(game.world)
    spawner, brain = NpcSpawner(game, territory), NpcBrain(game, territory)
    dialogue = NpcDialogue(game)
    rooms = sorted(game.world.rooms)
    for i in range(npcs):
        spawner.spawn("walker", rooms[i % len(rooms)])
    add_players(game, rooms)
    assert isinstance(game.clock, FakeClock)
    deadline = time.perf_counter() + seconds
    behaviour = await measure(brain.step, game.clock, ticks, deadline)
    emote = await measure(dialogue.emote_step, game.clock, ticks, deadline + seconds)
    return {
        "npcs": npcs,
        "rooms": len(rooms),
        "players": PLAYERS,
        "behaviour_step": behaviour,
        "emote_step": emote,
        "behaviour_failures": brain.failures,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--npcs", type=int, default=500)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.npcs, args.ticks, args.seconds)), indent=2))
