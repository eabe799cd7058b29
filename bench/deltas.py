"""Atomic deltas on PostgreSQL: Kadath's facade against bare asyncpg, in the same run.

    uv run python bench/deltas.py [--pg-url URL] [--rounds 20] [--repeats 3]

A fresh, uniquely named database is created on the server (dropped at the end) and migrated by
``AsyncPersistenceLayer.open`` with the default engine settings. Each measurement is rounds of
100 concurrent calls started together with ``asyncio.gather``:

- ``facade``: ``await layer.damage_player(player, 1, "bench")``, 100 players (one each);
- ``asyncpg``: the same clamped ``UPDATE … RETURNING`` through bare asyncpg on a pool of the
  same size as Kadath's (10), autocommit, on the same table and rows;
- ``facade_one_player`` / ``asyncpg_one_player``: the same, all 100 calls on one player (they
  queue on the row lock);
- ``core_pre_ping`` / ``core_no_pre_ping``: the same statement on a bare SQLAlchemy engine
  with and without ``pool_pre_ping``, autocommit, one checkout per call: what the
  per-checkout ping costs (also measured one caller at a time, in µs per call).

The measurements are interleaved ``--repeats`` times; the medians of the rates and the ratio
facade / asyncpg are printed (JSON on stdout, a summary on stderr). The final health of every
row is checked against the calls made (no lost update, never below 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.domain.player import MAX_AMOUNT, Player
from kadath.domain.stats import Stats
from kadath.domain.world import Room, World, Zone
from kadath.persistence.layer import AsyncPersistenceLayer

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CONCURRENCY = 100
POOL = 10
START = "bench.hall"
SQL = (
    "UPDATE players SET health = CASE WHEN health - $2 < 0 THEN 0 "
    "WHEN health - $2 > max_health THEN max_health ELSE health - $2 END "
    "WHERE id = $1 RETURNING health"
)


def build_world() -> World:
    rooms = {START: Room(START, "bench", "A Hall", "Bare.")}
    return World({"bench": Zone("bench", "Bench", "For measuring.")}, rooms, {}, {}, {}, (), START)


def name_for(index: int) -> str:
    out, n = "", index
    while True:
        n, digit = divmod(n, 26)
        out = chr(97 + digit) + out
        if n == 0:
            return "Delta" + out


async def rounds_per_second(rounds: int, call: Callable[[int], Awaitable[Any]]) -> float:
    """Calls per second over ``rounds`` rounds of CONCURRENCY calls started together."""
    start = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(call(i) for i in range(CONCURRENCY)))
    return rounds * CONCURRENCY / (time.perf_counter() - start)


@contextlib.asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    name = f"kadath_deltas_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def run(url: str, rounds: int, repeats: int) -> dict[str, Any]:
    layer = await AsyncPersistenceLayer.open(url, build_world())
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pool = await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL)
    engines = {
        name: create_async_engine(
            url, pool_size=POOL, max_overflow=POOL, pool_pre_ping=ping, isolation_level="AUTOCOMMIT"
        )
        for name, ping in (("core_pre_ping", True), ("core_no_pre_ping", False))
    }
    try:
        async with layer.unit_of_work() as uow:
            account = await uow.accounts.create_account(f"bench{uuid.uuid4().hex[:8]}", "x")
        players = [
            Player(
                id=uuid.uuid4(), account_id=account.id, name=name_for(i), room_id=START,
                respawn_room_id=START, stats=Stats(12, 12, 12, 12, 12, 12),
                health=MAX_AMOUNT, max_health=MAX_AMOUNT, profession_id=1,
            )
            for i in range(CONCURRENCY)
        ]  # fmt: skip
        await layer.save_players(players)
        one = players[0]
        calls: dict[str, int] = dict.fromkeys((p.id for p in players), 0)

        async def facade(i: int) -> None:
            await layer.damage_player(players[i], 1, "bench")
            calls[players[i].id] += 1

        async def facade_one(_i: int) -> None:
            await layer.damage_player(one, 1, "bench")
            calls[one.id] += 1

        async def bare(i: int) -> None:
            async with pool.acquire() as conn:
                await conn.fetchval(SQL, players[i].id, 1)
            calls[players[i].id] += 1

        async def bare_one(_i: int) -> None:
            async with pool.acquire() as conn:
                await conn.fetchval(SQL, one.id, 1)
            calls[one.id] += 1

        stmt = sa.text(SQL.replace("$1", ":pid").replace("$2", ":n"))

        def core(name: str) -> Callable[[int], Awaitable[None]]:
            engine = engines[name]

            async def call(i: int) -> None:
                async with engine.connect() as conn:
                    await conn.execute(stmt, {"pid": players[i].id, "n": 1})
                calls[players[i].id] += 1

            return call

        measurements: dict[str, Callable[[int], Awaitable[Any]]] = {
            "facade": facade,
            "asyncpg": bare,
            "facade_one_player": facade_one,
            "asyncpg_one_player": bare_one,
            "core_pre_ping": core("core_pre_ping"),
            "core_no_pre_ping": core("core_no_pre_ping"),
        }
        for call in measurements.values():  # warm every pool and statement cache
            await rounds_per_second(1, call)
        rates: dict[str, list[float]] = {name: [] for name in measurements}
        # One caller at a time: what a checkout's pre-ping adds to one call (µs).
        sequential: dict[str, list[float]] = {"core_pre_ping": [], "core_no_pre_ping": []}
        for repeat in range(repeats):
            for name, call in measurements.items():
                rates[name].append(await rounds_per_second(rounds, call))
            for name in sequential:
                one_at_a_time = measurements[name]
                start = time.perf_counter()
                for _ in range(rounds * 20):
                    await one_at_a_time(0)
                sequential[name].append((time.perf_counter() - start) / (rounds * 20) * 1e6)
            print(f"  repeat {repeat + 1}/{repeats} done", file=sys.stderr)

        async with layer.engine.connect() as conn:
            rows = dict((await conn.execute(sa.text("SELECT id, health FROM players"))).all())
        lost = sum(1 for pid, n in calls.items() if rows[pid] != max(0, MAX_AMOUNT - n))
        medians = {name: round(statistics.median(values), 1) for name, values in rates.items()}
        return {
            "concurrency": CONCURRENCY,
            "rounds": rounds,
            "repeats": repeats,
            "load_average": os.getloadavg(),
            "rates_per_s": {name: [round(v, 1) for v in vs] for name, vs in rates.items()},
            "median_per_s": medians,
            "ratio_facade_to_asyncpg": round(medians["facade"] / medians["asyncpg"], 3),
            "ratio_one_player": round(
                medians["facade_one_player"] / medians["asyncpg_one_player"], 3
            ),
            "pre_ping_cost": round(1 - medians["core_pre_ping"] / medians["core_no_pre_ping"], 3),
            "sequential_call_us": {
                name: round(statistics.median(values)) for name, values in sequential.items()
            },
            "rows_with_wrong_health": lost,
        }
    finally:
        await pool.close()
        for engine in engines.values():
            await engine.dispose()
        await layer.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with postgres_database(args.pg_url) as url:
        return await run(url, args.rounds, args.repeats)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--rounds", type=int, default=20, help="rounds of 100 calls each")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        document = uvloop.run(main(arguments))
    else:
        document = asyncio.run(main(arguments))
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    medians = document["median_per_s"]
    print(
        f"facade {medians['facade']}/s, asyncpg {medians['asyncpg']}/s, "
        f"ratio {document['ratio_facade_to_asyncpg']}; one player: "
        f"{medians['facade_one_player']}/s vs {medians['asyncpg_one_player']}/s "
        f"({document['ratio_one_player']}); pre-ping cost {document['pre_ping_cost']:.0%} "
        f"(one caller: {document['sequential_call_us']} µs a call); "
        f"load {document['load_average'][0]:.2f}",
        file=sys.stderr,
    )
