"""First visits on SQLite: one unit of work each (main's write path) against the grouped
writer (``persistence.first_visits``), in the same run.

    uv run python bench/first_visits.py [--walkers 1000] [--wave 100] [--repeats 3]

A fresh SQLite file is migrated by ``AsyncPersistenceLayer.open`` with the default engine
settings. Each measurement makes ``--walkers`` first visits (every walker enters one new room),
``--wave`` of them started together at a time, the way a crowd's steps arrive at a busy server:

- ``unit_of_work``: ``async with layer.unit_of_work() as uow:`` ``record_visit`` then
  ``gain_experience`` — what ``MovementService`` did for a plain first visit before issue 12;
- ``grouped``: ``await layer.first_visits.record(player, room, xp)``.

Reported per path (medians of the interleaved repeats): visits/s, process CPU per visit (this
process and its aiosqlite threads: what the server would spend) and write transactions per
wave. Every walker's stored experience is checked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from typing import Any

import sqlalchemy as sa

from kadath.domain.player import Player
from kadath.domain.stats import Stats
from kadath.domain.world import Direction, Room, World, Zone
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import PlayerRow

XP = 10
HALL = "bench.hall"


def build_world(rooms: int) -> World:
    ids = [f"bench.r{i}" for i in range(rooms)]
    table = {HALL: Room(HALL, "bench", "A Hall", "Bare.", exits={Direction.EAST: ids[0]})}
    for room_id in ids:
        table[room_id] = Room(room_id, "bench", "A Room", "Bare.")
    return World({"bench": Zone("bench", "Bench", "For measuring.")}, table, {}, {}, {}, (), HALL)


def name_for(index: int) -> str:
    out, n = "", index
    while True:
        n, digit = divmod(n, 26)
        out = chr(97 + digit) + out
        if n == 0:
            return "Walker" + out


async def run(walkers: int, wave: int, repeats: int) -> dict[str, Any]:
    paths = ("unit_of_work", "grouped")
    rooms = repeats * len(paths)
    with tempfile.TemporaryDirectory(prefix="kadath-visits-") as directory:
        layer = await AsyncPersistenceLayer.open(
            f"sqlite+aiosqlite:///{directory}/bench.db", build_world(rooms)
        )
        try:
            async with layer.unit_of_work() as uow:
                account = await uow.accounts.create_account(f"bench{uuid.uuid4().hex[:8]}", "x")
            players = [
                Player(
                    id=uuid.uuid4(), account_id=account.id, name=name_for(i), room_id=HALL,
                    respawn_room_id=HALL, stats=Stats(12, 12, 12, 12, 12, 12), health=100,
                    max_health=100, profession_id=1,
                )
                for i in range(walkers)
            ]  # fmt: skip
            await layer.save_players(players)
            begun: list[object] = []
            sa.event.listen(layer.engine.sync_engine, "begin", lambda conn: begun.append(conn))

            async def old(player: Player, room: str) -> None:
                async with layer.unit_of_work() as uow:
                    if await uow.exploration.record_visit(player.id, room):
                        await uow.experience.gain_experience(player, XP, "explore")

            async def grouped(player: Player, room: str) -> None:
                await layer.first_visits.record(player, room, XP)

            calls = {"unit_of_work": old, "grouped": grouped}
            figures: dict[str, dict[str, list[float]]] = {
                p: {"visits_per_s": [], "cpu_ms_per_visit": [], "transactions_per_wave": []}
                for p in paths
            }
            room_index = 0
            for repeat in range(repeats):
                for path in paths:
                    room = f"bench.r{room_index}"
                    room_index += 1
                    call = calls[path]
                    begun.clear()
                    cpu, wall = time.process_time(), time.perf_counter()
                    for start in range(0, walkers, wave):
                        await asyncio.gather(
                            *(call(p, room) for p in players[start : start + wave])
                        )
                    wall = time.perf_counter() - wall
                    cpu = time.process_time() - cpu
                    waves = -(-walkers // wave)
                    figures[path]["visits_per_s"].append(walkers / wall)
                    figures[path]["cpu_ms_per_visit"].append(cpu / walkers * 1000)
                    figures[path]["transactions_per_wave"].append(len(begun) / waves)
                print(f"  repeat {repeat + 1}/{repeats} done", file=sys.stderr)
            async with layer.engine.connect() as conn:
                stored = set((await conn.execute(sa.select(PlayerRow.experience))).scalars())
        finally:
            await layer.close()
    medians = {
        path: {name: round(statistics.median(v), 3) for name, v in values.items()}
        for path, values in figures.items()
    }
    return {
        "walkers": walkers,
        "wave": wave,
        "repeats": repeats,
        "load_average": os.getloadavg(),
        "median": medians,
        "runs": {
            p: {n: [round(x, 3) for x in v] for n, v in f.items()} for p, f in figures.items()
        },
        "cpu_ratio_grouped_to_unit_of_work": round(
            medians["grouped"]["cpu_ms_per_visit"] / medians["unit_of_work"]["cpu_ms_per_visit"],
            3,
        ),
        "every_walker_paid_for_every_room": stored == {XP * rooms},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walkers", type=int, default=1000)
    parser.add_argument("--wave", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        document = uvloop.run(run(arguments.walkers, arguments.wave, arguments.repeats))
    else:
        document = asyncio.run(run(arguments.walkers, arguments.wave, arguments.repeats))
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    m = document["median"]
    print(
        "unit of work: {u[visits_per_s]:.0f} visits/s, {u[cpu_ms_per_visit]:.2f} ms CPU each, "
        "{u[transactions_per_wave]:.0f} tx/wave; grouped: {g[visits_per_s]:.0f} visits/s, "
        "{g[cpu_ms_per_visit]:.2f} ms CPU each, {g[transactions_per_wave]:.1f} tx/wave; "
        "load {l:.2f}".format(u=m["unit_of_work"], g=m["grouped"], l=document["load_average"][0]),
        file=sys.stderr,
    )
