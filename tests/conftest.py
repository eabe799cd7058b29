"""Shared fixtures: a small hand-built world, and a migrated database on each backend.

Integration tests run on SQLite always and on PostgreSQL when ``KADATH_TEST_POSTGRES_URL`` is
set (CI sets it). Each run gets its own PostgreSQL database, dropped at the end; each test
starts from empty tables (professions stay, being seeded by the migration)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.domain.account import Account
from kadath.domain.player import Player
from kadath.domain.stats import Stats
from kadath.domain.world import (
    ContainerPlacement,
    Direction,
    ItemKind,
    ItemPrototype,
    ItemStack,
    Room,
    World,
    Zone,
)
from kadath.persistence.layer import AsyncPersistenceLayer

PG_URL = os.environ.get("KADATH_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
KEEP_TABLES = {"professions", "alembic_version"}


def build_small_world() -> World:
    """Three rooms in a line, a few item kinds and one locked chest."""
    items = {
        "lantern": ItemPrototype("lantern", "a brass lantern", "Dented brass.", ("lantern",)),
        "coin": ItemPrototype("coin", "a silver coin", "Worn smooth.", ("coin", "silver")),
        "razor": ItemPrototype(
            "razor",
            "a straight razor",
            "Sharp.",
            ("razor",),
            ItemKind.WEAPON,
            damage=(2, 5),
            slot="wield",
        ),
        "satchel": ItemPrototype(
            "satchel",
            "a leather satchel",
            "Cracked leather.",
            ("satchel",),
            ItemKind.CONTAINER,
            slot="waist",
            capacity=3,
        ),
        "brass_key": ItemPrototype("brass_key", "a brass key", "Small.", ("key",), ItemKind.KEY),
    }
    rooms = {
        "town.square": Room(
            "town.square",
            "town",
            "The Square",
            "An empty square.",
            exits={Direction.EAST: "town.street"},
            flags=frozenset({"safe"}),
            items=(ItemStack("lantern", 1), ItemStack("coin", 2)),
        ),
        "town.street": Room(
            "town.street",
            "town",
            "A Street",
            "A cobbled street.",
            exits={Direction.WEST: "town.square", Direction.EAST: "harbour.dock"},
        ),
        "harbour.dock": Room(
            "harbour.dock",
            "harbour",
            "The Dock",
            "Rotting planks.",
            exits={Direction.WEST: "town.street"},
            flags=frozenset({"pvp"}),
        ),
    }
    containers = {
        "town.square.chest": ContainerPlacement(
            "town.square.chest",
            "town.square",
            "an iron chest",
            "Heavy.",
            ("chest",),
            3,
            locked=True,
            key_prototype_id="brass_key",
            contents=(ItemStack("razor", 1),),
        )
    }
    zones = {
        "town": Zone("town", "Town", "A town."),
        "harbour": Zone("harbour", "Harbour", "A harbour."),
    }
    return World(zones, rooms, items, containers, {}, (), "town.square")


@pytest.fixture(scope="session")
def small_world() -> World:
    return build_small_world()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def database_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A fresh, empty database for this test run on the chosen backend."""
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "kadath-test.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    if not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    async with fresh_postgres_database(PG_URL) as url:
        yield url


@contextlib.asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    """Create a uniquely named database on the server and drop it afterwards."""
    name = f"kadath_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
async def migrated_layer(
    database_url: str, small_world: World
) -> AsyncIterator[AsyncPersistenceLayer]:
    layer = await AsyncPersistenceLayer.open(
        database_url, small_world, migrate_schema=True, pool_size=5, max_overflow=15
    )
    yield layer
    await layer.close()


@pytest.fixture
async def persistence(
    migrated_layer: AsyncPersistenceLayer,
) -> AsyncIterator[AsyncPersistenceLayer]:
    """A migrated database with the small world seeded; emptied again after the test."""
    await migrated_layer.seed_world()
    yield migrated_layer
    await _empty_tables(migrated_layer)


async def _empty_tables(layer: AsyncPersistenceLayer) -> None:
    from kadath.persistence.models import Base

    async with layer.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                await conn.execute(table.delete())


def random_name() -> str:
    """A valid, almost surely unique character name (letters only)."""
    letters = "".join(chr(97 + b % 26) for b in uuid.uuid4().bytes[:10])
    return "T" + letters


@pytest.fixture
async def account(persistence: AsyncPersistenceLayer) -> Account:
    async with persistence.unit_of_work() as uow:
        return await uow.accounts.create_account(random_name(), "x")


@pytest.fixture
def make_player(small_world: World) -> Iterator[object]:
    def make(account: Account, name: str | None = None, **fields: object) -> Player:
        values: dict[str, object] = {
            "id": uuid.uuid4(),
            "account_id": account.id,
            "name": name or random_name(),
            "room_id": small_world.start_room_id,
            "respawn_room_id": small_world.start_room_id,
            "stats": Stats(12, 12, 12, 12, 12, 12),
            "health": 100,
            "max_health": 100,
            "profession_id": 1,
        }
        values.update(fields)
        return Player(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def game_factory() -> object:
    return build_game


def build_game(persistence: AsyncPersistenceLayer, messenger: object | None = None) -> object:
    """A real Game on ``persistence`` with a FakeMessenger, fixed randomness and a fake clock."""
    from kadath.domain.rng import RandomRng
    from kadath.services.chat import ChatService
    from kadath.services.clock import FakeClock
    from kadath.services.events import LocalEventBus
    from kadath.services.game import Game
    from kadath.services.messenger import FakeMessenger
    from kadath.services.movement import MovementService
    from kadath.services.npc_roster import NpcRoster
    from kadath.services.presence import Presence
    from kadath.services.rooms import RoomDescriber

    world = persistence.world
    fake = messenger or FakeMessenger()
    presence, npcs, bus, rng = Presence(), NpcRoster(), LocalEventBus(), RandomRng(7)
    uow = persistence.unit_of_work
    describer = RoomDescriber(world, presence, npcs, persistence.reading, rng)
    persistence.room_listeners[:] = [describer.forget]
    return Game(
        world=world,
        presence=presence,
        npcs=npcs,
        messenger=fake,
        bus=bus,  # type: ignore[arg-type]
        clock=FakeClock(),
        rng=rng,
        uow=uow,
        reading=persistence.reading,
        rooms=describer,
        movement=MovementService(world, presence, fake, bus, uow),  # type: ignore[arg-type]
        chat=ChatService(presence, fake, bus),  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True, scope="session")
def _plain_console_logs() -> None:
    """Servers started inside the test process log through structlog's defaults, which render
    a traceback with rich (every frame's source and locals): over a second of CPU on the event
    loop for a database error's chain, enough to starve a test's bounded waits. Render as
    `kadath serve` does instead (``kadath.logs``: plain tracebacks, no colours)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.dev.set_exc_info,
            structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    )
