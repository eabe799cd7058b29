"""SQLite's writers under contention, on a loop kept busy: latency of one write unit of work.

    uv run python bench/sqlite_writers.py [--writers 30] [--writes 20] [--busy-ms 1] [--repeats 3]
    PYTHONPATH=<checkout>/src uv run python bench/sqlite_writers.py ...   # another version

A fresh SQLite file is migrated by ``AsyncPersistenceLayer.open`` with the default engine
settings. ``--writers`` tasks each run ``--writes`` write units of work one after another (a
position save: ``uow.players.save_player``, one ``UPDATE``), all at once, while a ticker task
keeps the event loop busy: every turn of the loop it spins ``--busy-ms`` of CPU, the way a
server serving 1,000 players has little idle time between callbacks (every trip a statement
makes to aiosqlite's thread then waits that long for the loop to come back).

Reported (medians over ``--repeats``): writes/s, the latency of one write (from asking for its
unit of work to its commit) p50 / p95 / p99 / max in ms, and this process's CPU per write.
Made for issue 12's writers' queue (branch ``lean3``, docs/performance.md "SQLite's writers"):
without one, the writers meet in SQLite's busy handler, which polls with sleeps of up to
100 ms; ``writer_queue`` in the output says whether the code measured had one.
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

from kadath.domain.player import Player
from kadath.domain.stats import Stats
from kadath.domain.world import Room, World, Zone
from kadath.persistence.layer import AsyncPersistenceLayer

HALL = "bench.hall"


def name_for(index: int) -> str:
    return "Writer" + chr(97 + index % 26) + chr(97 + index // 26 % 26)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def ticker(busy_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        end = time.perf_counter() + busy_s
        while time.perf_counter() < end:
            pass
        await asyncio.sleep(0)


async def one_run(layer: AsyncPersistenceLayer, players: list[Player], writes: int,
                  busy_s: float) -> dict[str, float]:  # fmt: skip
    latencies: list[float] = []

    async def writer(player: Player) -> None:
        for _ in range(writes):
            started = time.perf_counter()
            async with layer.unit_of_work() as uow:
                await uow.players.save_player(player)
            latencies.append(time.perf_counter() - started)

    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(busy_s, stop))
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(writer(p) for p in players))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    await tick
    total = len(players) * writes
    ms = [x * 1000 for x in latencies]
    return {
        "writes_per_s": total / wall,
        "p50_ms": percentile(ms, 0.50),
        "p95_ms": percentile(ms, 0.95),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms),
        "cpu_ms_per_write": cpu / total * 1000,  # the ticker's spinning included
    }


async def run(writers: int, writes: int, busy_ms: float, repeats: int) -> dict[str, Any]:
    world = World(
        {"bench": Zone("bench", "Bench", "For measuring.")},
        {HALL: Room(HALL, "bench", "A Hall", "Bare.")},
        {}, {}, {}, (), HALL,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="kadath-writers-") as directory:
        layer = await AsyncPersistenceLayer.open(f"sqlite+aiosqlite:///{directory}/b.db", world)
        try:
            async with layer.unit_of_work() as uow:
                account = await uow.accounts.create_account(f"bench{uuid.uuid4().hex[:8]}", "x")
            players = [
                Player(
                    id=uuid.uuid4(), account_id=account.id, name=name_for(i),
                    room_id=HALL, respawn_room_id=HALL, stats=Stats(12, 12, 12, 12, 12, 12),
                    health=100, max_health=100, profession_id=1,
                )
                for i in range(writers)
            ]  # fmt: skip
            await layer.save_players(players)
            runs = []
            for repeat in range(repeats):
                runs.append(await one_run(layer, players, writes, busy_ms / 1000))
                print(f"  repeat {repeat + 1}/{repeats}: {runs[-1]}", file=sys.stderr)
        finally:
            await layer.close()
    return {
        "writers": writers,
        "writes": writes,
        "busy_ms": busy_ms,
        "switch_interval_s": sys.getswitchinterval(),
        "writer_queue": hasattr(layer, "writers"),
        "load_average": os.getloadavg(),
        "median": {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]},
        "runs": [{k: round(v, 2) for k, v in r.items()} for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=30)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--busy-ms", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval in seconds (Python's default: 0.005)",
    )
    args = parser.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    result = asyncio.run(run(args.writers, args.writes, args.busy_ms, args.repeats))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
