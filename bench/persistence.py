"""Persistence benchmark: latency and throughput of AsyncPersistenceLayer's hot calls.

    uv run python bench/persistence.py --backend sqlite|postgresql|both [--pg-url URL] [--quick]

Each backend gets a fresh database (a temporary SQLite file; a uniquely named PostgreSQL
database, dropped at the end). Every measurement is bounded in count and in time. Progress goes
to stderr; one JSON document goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.domain.account import Account
from kadath.domain.item import InInventory, OnFloor
from kadath.domain.player import MAX_AMOUNT, Player
from kadath.domain.stats import Stats
from kadath.domain.world import Direction, ItemPrototype, ItemStack, Room, World, Zone
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import PlayerRow

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CONCURRENCY = 100
BATCH = 1000
START = "bench.hall"


@dataclass(frozen=True)
class Budget:
    """How many operations each measurement may run, and for how long at most."""

    sequential: int
    rounds: int
    round_trips: int
    batch_repeats: int
    seconds: float


FULL = Budget(sequential=2000, rounds=20, round_trips=500, batch_repeats=5, seconds=20.0)
QUICK = Budget(sequential=300, rounds=4, round_trips=100, batch_repeats=2, seconds=5.0)


def build_world() -> World:
    """Two rooms and a lantern: all the benchmark needs."""
    rooms = {
        START: Room(START, "bench", "A Hall", "Bare.", exits={Direction.EAST: "bench.yard"}),
        "bench.yard": Room(
            "bench.yard", "bench", "A Yard", "Bare.", exits={Direction.WEST: START},
            items=(ItemStack("lantern", 1),),
        ),
    }  # fmt: skip
    items = {"lantern": ItemPrototype("lantern", "a lantern", "Brass.", ("lantern",))}
    zones = {"bench": Zone("bench", "Bench", "For measuring.")}
    return World(zones, rooms, items, {}, {}, (), START)


def letters(n: int) -> str:
    """A letters-only rendering of ``n``, so generated names stay valid character names."""
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out = chr(97 + digit) + out
        if n == 0:
            return out


def make_player(account: Account, prefix: str, index: int) -> Player:
    return Player(
        id=uuid.uuid4(),
        account_id=account.id,
        name=f"{prefix}{letters(index)}",
        room_id=START,
        respawn_room_id=START,
        stats=Stats(12, 12, 12, 12, 12, 12),
        health=MAX_AMOUNT,
        max_health=MAX_AMOUNT,
        profession_id=1,
    )


# -- statistics ------------------------------------------------------------------------------
def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summary(latencies: list[float], wall: float, **extra: Any) -> dict[str, Any]:
    ms = sorted(value * 1000 for value in latencies)
    return {
        "ops": len(ms),
        "wall_s": round(wall, 3),
        "ops_per_s": round(len(ms) / wall, 1),
        "median_ms": round(percentile(ms, 0.50), 3),
        "p95_ms": round(percentile(ms, 0.95), 3),
        "p99_ms": round(percentile(ms, 0.99), 3),
        "max_ms": round(ms[-1], 3),
        **extra,
    }


async def timed(call: Awaitable[Any]) -> float:
    start = time.perf_counter()
    await call
    return time.perf_counter() - start


async def sequential(
    count: int, seconds: float, call: Callable[[int], Awaitable[Any]]
) -> dict[str, Any]:
    """``call(i)`` one after another, up to ``count`` times or ``seconds``."""
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    for i in range(count):
        latencies.append(await timed(call(i)))
        if time.perf_counter() > deadline:
            break
    return summary(latencies, time.perf_counter() - start)


async def concurrent_rounds(
    rounds: int, seconds: float, call: Callable[[int], Coroutine[Any, Any, Any]]
) -> dict[str, Any]:
    """Rounds of ``CONCURRENCY`` tasks started together; latency includes waiting for a pooled
    connection (and, on SQLite, for the write lock)."""
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    done = 0
    for _ in range(rounds):
        latencies += await asyncio.gather(*(timed(call(i)) for i in range(CONCURRENCY)))
        done += 1
        if time.perf_counter() > deadline:
            break
    return summary(latencies, time.perf_counter() - start, rounds=done, concurrency=CONCURRENCY)


# -- the measurements ------------------------------------------------------------------------
async def create_account(layer: AsyncPersistenceLayer) -> Account:
    async with layer.unit_of_work() as uow:
        name = f"bench{uuid.uuid4().hex[:8]}"
        return await uow.accounts.create_account(name, "x")


async def health_of(layer: AsyncPersistenceLayer, player: Player) -> int:
    return (await layer.get_player_by_id(player.id)).health


async def bench_reads_and_deltas(
    layer: AsyncPersistenceLayer, account: Account, budget: Budget
) -> dict[str, Any]:
    players = [make_player(account, "Dmg", i) for i in range(CONCURRENCY)]
    await layer.save_players(players)
    one = players[0]
    results: dict[str, Any] = {}

    results["get_player_by_id_sequential"] = await sequential(
        budget.sequential, budget.seconds, lambda i: layer.get_player_by_id(one.id)
    )
    results["damage_player_sequential"] = await sequential(
        budget.sequential, budget.seconds, lambda i: layer.damage_player(one, 1, "bench")
    )

    before = await health_of(layer, one)
    stats = await concurrent_rounds(
        budget.rounds, budget.seconds, lambda i: layer.damage_player(one, 1, "bench")
    )
    lost = (before - stats["ops"]) - await health_of(layer, one)
    results["damage_player_100_tasks_one_player"] = {**stats, "lost_updates": lost}

    stats = await concurrent_rounds(
        budget.rounds, budget.seconds, lambda i: layer.damage_player(players[i], 1, "bench")
    )
    results["damage_player_100_tasks_100_players"] = stats
    results.update(await bench_core_baseline(layer, players, budget))
    if layer.engine.dialect.name == "postgresql":
        url = layer.engine.url.render_as_string(hide_password=False)
        results.update(await bench_asyncpg_baseline(url, players, budget))
    return results


async def bench_core_baseline(
    layer: AsyncPersistenceLayer, players: list[Player], budget: Budget
) -> dict[str, Any]:
    """The same delta, unclamped, as a bare SQLAlchemy Core statement in its own transaction:
    the floor the repository's overhead is measured against."""
    stmt = (
        sa.update(PlayerRow)
        .where(PlayerRow.id == sa.bindparam("pid"))
        .values(health=PlayerRow.health - 1)
        .returning(PlayerRow.health)
    )

    async def core_update(player: Player) -> None:
        async with layer.engine.begin() as conn:
            (await conn.execute(stmt, {"pid": player.id})).scalar_one()

    return {
        "core_update_sequential": await sequential(
            budget.sequential, budget.seconds, lambda i: core_update(players[0])
        ),
        "core_update_100_tasks_100_players": await concurrent_rounds(
            budget.rounds, budget.seconds, lambda i: core_update(players[i])
        ),
    }


async def bench_asyncpg_baseline(url: str, players: list[Player], budget: Budget) -> dict[str, Any]:
    """The same update through bare asyncpg (autocommit, 10 pooled connections): the
    machine's ceiling, with no SQLAlchemy in the way."""
    import asyncpg

    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    sql = "UPDATE players SET health = health - 1 WHERE id = $1 RETURNING health"
    pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
    try:

        async def update(player: Player) -> None:
            async with pool.acquire() as conn:
                await conn.fetchval(sql, player.id)

        return {
            "asyncpg_update_sequential": await sequential(
                budget.sequential, budget.seconds, lambda i: update(players[0])
            ),
            "asyncpg_update_100_tasks_100_players": await concurrent_rounds(
                budget.rounds, budget.seconds, lambda i: update(players[i])
            ),
        }
    finally:
        await pool.close()


async def bench_save_players(
    layer: AsyncPersistenceLayer, account: Account, budget: Budget
) -> dict[str, Any]:
    """One ``save_players`` of BATCH players against BATCH ``save_player`` calls, first as
    inserts of new players, then as updates of the same ones."""
    batched = [make_player(account, "Bat", i) for i in range(BATCH)]
    singles = [make_player(account, "Sin", i) for i in range(BATCH)]
    results: dict[str, Any] = {}
    for phase in ("insert", "update"):
        batch_runs: list[float] = []
        for _ in range(1 if phase == "insert" else budget.batch_repeats):
            for player in batched:
                player.experience += 1
            batch_runs.append(await timed(layer.save_players(batched)))
        single_start = time.perf_counter()
        single_deadline = single_start + budget.seconds * 3
        saved = 0
        for player in singles:
            player.experience += 1
            await layer.save_player(player)
            saved += 1
            if phase == "update" and time.perf_counter() > single_deadline:
                break
        single_wall = time.perf_counter() - single_start
        batch_rate = BATCH / sorted(batch_runs)[len(batch_runs) // 2]
        single_rate = saved / single_wall
        results[f"save_players_{BATCH}_{phase}"] = {
            "batch_calls": len(batch_runs),
            "batch_median_ms": round(sorted(batch_runs)[len(batch_runs) // 2] * 1000, 2),
            "batch_rows_per_s": round(batch_rate, 1),
            "single_calls": saved,
            "single_median_ms": round(single_wall / saved * 1000, 3),
            "single_rows_per_s": round(single_rate, 1),
            "speedup": round(batch_rate / single_rate, 1),
        }
    return results


async def bench_transfer(
    layer: AsyncPersistenceLayer, account: Account, budget: Budget
) -> dict[str, Any]:
    """floor → inventory → floor, one round trip being two checked transfers."""
    player = make_player(account, "Mover", 0)
    await layer.save_player(player)
    item = await layer.create_item("lantern", OnFloor(START))
    floor, hands = OnFloor(START), InInventory(player.id)

    async def round_trip(_: int) -> None:
        await layer.transfer_item(item.id, floor, hands, actor_id=player.id)
        await layer.transfer_item(item.id, hands, floor, actor_id=player.id)

    stats = await sequential(budget.round_trips, budget.seconds, round_trip)
    return {"transfer_item_round_trip": {**stats, "transfers_per_s": stats["ops_per_s"] * 2}}


async def run_backend(url: str, budget: Budget) -> dict[str, Any]:
    layer = await AsyncPersistenceLayer.open(url, build_world())
    try:
        account = await create_account(layer)
        results: dict[str, Any] = {"pool": layer.pool_status()}
        for step in (bench_reads_and_deltas, bench_save_players, bench_transfer):
            print(f"  {step.__name__}", file=sys.stderr)
            results.update(await step(layer, account, budget))
        return results
    finally:
        await layer.close()


# -- databases -------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def sqlite_database() -> AsyncIterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="kadath-bench-") as directory:
        yield f"sqlite+aiosqlite:///{directory}/bench.db", f"SQLite {sqlite3.sqlite_version}"


@contextlib.asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[tuple[str, str]]:
    """A uniquely named database on the server, dropped afterwards."""
    name = f"kadath_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            version = await conn.scalar(sa.text("SHOW server_version"))
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(server_url).set(database=name)
        yield url.render_as_string(hide_password=False), f"PostgreSQL {version}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    budget = QUICK if args.quick else FULL
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "sqlalchemy": sa.__version__,
            "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        },
        "budget": budget.__dict__,
        "backends": {},
    }
    for backend in backends:
        print(f"{backend}:", file=sys.stderr)
        database = sqlite_database() if backend == "sqlite" else postgres_database(args.pg_url)
        async with database as (url, version):
            started = time.perf_counter()
            results = await run_backend(url, budget)
            results["server"] = version
            results["total_s"] = round(time.perf_counter() - started, 1)
            report["backends"][backend] = results
    return report


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server to create a database on")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="the server uses uvloop"
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        document = uvloop.run(main(arguments))
    else:
        document = asyncio.run(main(arguments))
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
