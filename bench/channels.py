"""Channel benchmark: the server's cost of one channel message to many listeners, and of the
history writer's flush (one insert and one trim per channel) on a real database.

    uv run python bench/channels.py [--listeners 1000] [--messages 2000] [--postgres SERVER_URL]

SQLite in a temporary directory by default; with ``--postgres`` a database of its own is
created on that server and dropped afterwards.

A messenger that encodes each frame once and counts deliveries stands for the Hub. Bounded in
messages. One JSON document goes to stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.domain.player import Player
from kadath.domain.stats import Stats
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.services.channel_history import ChannelHistory
from kadath.services.channel_members import ChannelMembers
from kadath.services.channels import ChannelService
from kadath.services.clock import SystemClock
from kadath.services.ignores import IgnoreService
from kadath.services.presence import Presence
from kadath.world import DEFAULT_WORLD_DIR, load_world


class EncodingMessenger:
    """Encodes a frame once per fan-out, as the Hub does, and counts deliveries."""

    def __init__(self) -> None:
        self.delivered = 0

    def to_player(self, player_id: uuid.UUID, frame: dict[str, Any]) -> None:
        self.delivered += 1

    def to_room(
        self, room_id: str, frame: dict[str, Any], *, exclude: Iterable[uuid.UUID] = ()
    ) -> None:
        pass

    def to_world(self, frame: dict[str, Any]) -> None:
        pass

    def to_players(self, player_ids: Iterable[uuid.UUID], frame: dict[str, Any]) -> None:
        json.dumps(frame, separators=(",", ":"))
        self.delivered += sum(1 for _ in player_ids)


def player(n: int, room: str) -> Player:
    return Player(
        uuid.uuid4(),
        uuid.uuid4(),
        f"P{n:05d}",
        room,
        room,
        Stats(10, 10, 10, 10, 10, 10),
        20,
        20,
        1,
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1] * 1e6, 1),
    }


async def run(listeners: int, messages: int, url: str) -> dict[str, Any]:
    world = load_world(DEFAULT_WORLD_DIR)
    layer = await AsyncPersistenceLayer.open(url, world)
    try:
        presence, messenger = Presence(), EncodingMessenger()
        ignores = IgnoreService(presence, layer.unit_of_work, layer.reading)
        members = ChannelMembers(presence, layer.unit_of_work, layer.reading)
        history = ChannelHistory(layer.unit_of_work, layer.reading)
        channels = ChannelService(
            presence, messenger, members, history, ignores, clock=SystemClock()
        )
        crowd = [player(n, world.start_room_id) for n in range(listeners)]
        for p in crowd:
            presence.enter(p)
            await members.load(p.id)  # no rows: every channel's defaults
        speak, flush = [], []
        for n in range(messages):
            started = time.perf_counter()
            await channels.speak(crowd[n % listeners], "ooc", f"message number {n}")
            speak.append(time.perf_counter() - started)
            if n % 100 == 99:
                started = time.perf_counter()
                await history.flush()
                flush.append(time.perf_counter() - started)
        return {
            "listeners": listeners,
            "messages": messages,
            "delivered": messenger.delivered,
            "speak": percentiles(speak),
            "per_delivery_us": round(statistics.median(speak) * 1e6 / listeners, 3),
            "flush_100": {
                k.replace("_us", "_ms"): round(v / 1000, 2) for k, v in percentiles(flush).items()
            },
            "database": layer.engine.dialect.name,
        }
    finally:
        await layer.close()


@asynccontextmanager
async def own_postgres_database(server_url: str) -> AsyncIterator[str]:
    name = f"kadath_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def bench(listeners: int, messages: int, postgres: str) -> dict[str, Any]:
    if postgres:
        async with own_postgres_database(postgres) as url:
            return await run(listeners, messages, url)
    with tempfile.TemporaryDirectory() as tmp:
        return await run(listeners, messages, f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--postgres", default="", help="a server URL (postgresql+asyncpg://…)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args.listeners, args.messages, args.postgres)), indent=2))


if __name__ == "__main__":
    main()
