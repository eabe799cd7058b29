"""``kadath db check`` against a real database: a clean one passes, and each invariant broken
by hand (statements straight on the tables, constraints switched off where they would refuse)
is reported."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from kadath.domain.item import ContainerKind, InContainer, InInventory
from kadath.domain.player import Player
from kadath.domain.world import World
from kadath.persistence.check import Violation, check_database
from kadath.persistence.engine import create_engine
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ContainerRow, ExplorationRow, ItemRow, PlayerRow

ONE_LOCATION = "ck_item_instances_one_location"


@dataclass(frozen=True)
class Scene:
    """A clean database with a bit of everything: a character carrying a bag with a coin in
    it, a player's corpse with a lantern, the seeded chest and floor items."""

    player: Player
    bag: uuid.UUID  # the bag's container
    bag_item: uuid.UUID
    coin: uuid.UUID  # inside the bag
    corpse: uuid.UUID
    lantern: uuid.UUID  # inside the corpse


@pytest.fixture
async def scene(
    persistence: AsyncPersistenceLayer, save_player: Callable[..., Awaitable[Player]]
) -> Scene:
    player = await save_player(experience=150, level=2)
    owner = await save_player()
    satchel = await persistence.create_item("satchel", InInventory(player.id))
    async with persistence.unit_of_work() as uow:
        bag = await uow.containers.create_container(
            kind=ContainerKind.WEARABLE,
            name="a leather satchel",
            capacity=3,
            item_id=satchel.id,
            owner_player_id=player.id,
        )
        corpse = await uow.containers.create_container(
            kind=ContainerKind.CORPSE,
            name="the corpse of someone",
            capacity=1,
            room_id="town.street",
            owner_player_id=owner.id,
        )
        await uow.exploration.record_visit(player.id, "town.street")
    coin = await persistence.create_item("coin", InContainer(bag.id))
    lantern = await persistence.create_item("lantern", InContainer(corpse.id))
    return Scene(player, bag.id, satchel.id, coin.id, corpse.id, lantern.id)


async def violations(url: str, world: World) -> list[Violation]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        _, found = await check_database(engine, world)
    finally:
        await engine.dispose()
    return found


@contextlib.asynccontextmanager
async def unguarded(url: str) -> AsyncIterator[AsyncConnection]:
    """A committed transaction with foreign keys off (and on SQLite, CHECK constraints off), as
    an older version, a bug or a hand edit could have written."""
    engine = create_async_engine(url)  # none of Kadath's pragmas: SQLite's foreign keys are off
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                await conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
            else:
                await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
    finally:
        await engine.dispose()


async def test_a_clean_database_passes(
    persistence: AsyncPersistenceLayer, database_url: str, small_world: World, scene: Scene
) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        snapshot, found = await check_database(engine, small_world)
    finally:
        await engine.dispose()
    assert found == []
    assert snapshot is not None
    assert snapshot.summary() == "2 characters, 7 items, 3 containers"


Breakage = Callable[[AsyncConnection, Scene], Awaitable[object]]


def _item(item_id: uuid.UUID, **values: object) -> sa.Update:
    return sa.update(ItemRow).where(ItemRow.id == item_id).values(**values)


def _player(scene: Scene, **values: object) -> sa.Update:
    return sa.update(PlayerRow).where(PlayerRow.id == scene.player.id).values(**values)


def _container(container_id: uuid.UUID, **values: object) -> sa.Update:
    return sa.update(ContainerRow).where(ContainerRow.id == container_id).values(**values)


MISSING = uuid.UUID(int=7)
BREAKAGES: dict[str, tuple[str, Breakage]] = {
    "an item carried by a missing character": (
        "item_place",
        lambda c, s: c.execute(_item(s.lantern, container_id=None, owner_player_id=MISSING)),
    ),
    "an item inside a missing container": (
        "item_place",
        lambda c, s: c.execute(_item(s.lantern, container_id=MISSING)),
    ),
    "an item on an unknown floor": (
        "unknown_room",
        lambda c, s: c.execute(_item(s.lantern, container_id=None, room_id="town.nowhere")),
    ),
    "an item of an unknown prototype": (
        "unknown_prototype",
        lambda c, s: c.execute(_item(s.lantern, prototype_id="phlogiston")),
    ),
    "a bag inside itself": (
        "container_cycle",
        lambda c, s: c.execute(_item(s.bag_item, owner_player_id=None, container_id=s.bag)),
    ),
    "a bag whose item is gone": (
        "container_place",
        lambda c, s: c.execute(_container(s.bag, item_id=MISSING)),
    ),
    "a corpse owned by a missing character": (
        "corpse_owner",
        lambda c, s: c.execute(_container(s.corpse, owner_player_id=MISSING)),
    ),
    "a corpse in an unknown room": (
        "unknown_room",
        lambda c, s: c.execute(_container(s.corpse, room_id="town.nowhere")),
    ),
    "a character at health 0": ("dead_on_its_feet", lambda c, s: c.execute(_player(s, health=0))),
    "a level below its experience": ("level", lambda c, s: c.execute(_player(s, level=1))),
    "a level above its experience": ("level", lambda c, s: c.execute(_player(s, level=5))),
    "a character in an unknown room": (
        "unknown_room",
        lambda c, s: c.execute(_player(s, room_id="town.nowhere")),
    ),
    "a respawn room that is gone": (
        "unknown_room",
        lambda c, s: c.execute(_player(s, respawn_room_id="town.nowhere")),
    ),
    "an explored room that is gone": (
        "unknown_room",
        lambda c, s: c.execute(
            sa.update(ExplorationRow)
            .where(ExplorationRow.player_id == s.player.id)
            .values(room_id="town.nowhere")
        ),
    ),
}


@pytest.mark.parametrize("case", list(BREAKAGES))
async def test_each_broken_invariant_is_reported(
    persistence: AsyncPersistenceLayer,
    database_url: str,
    small_world: World,
    scene: Scene,
    case: str,
) -> None:
    rule, breakage = BREAKAGES[case]
    async with unguarded(database_url) as conn:
        await breakage(conn, scene)

    found = await violations(database_url, small_world)

    assert [v.rule for v in found] == [rule], found


async def test_a_bag_ring_through_two_bags_is_one_violation(
    persistence: AsyncPersistenceLayer, database_url: str, small_world: World, scene: Scene
) -> None:
    outer_item = await persistence.create_item("satchel", InContainer(scene.bag))
    async with persistence.unit_of_work() as uow:
        outer = await uow.containers.create_container(
            kind=ContainerKind.WEARABLE, name="a satchel", capacity=3, item_id=outer_item.id
        )
    # the first bag goes into the second, which is inside the first
    async with unguarded(database_url) as conn:
        await conn.execute(_item(scene.bag_item, owner_player_id=None, container_id=outer.id))

    found = await violations(database_url, small_world)

    assert [v.rule for v in found] == ["container_cycle"], found
    assert str(scene.bag) in found[0].detail and str(outer.id) in found[0].detail


async def test_an_item_in_two_places_is_reported(
    persistence: AsyncPersistenceLayer, database_url: str, small_world: World, scene: Scene
) -> None:
    postgres = not database_url.startswith("sqlite")
    async with unguarded(database_url) as conn:
        if postgres:
            await conn.exec_driver_sql(f"ALTER TABLE item_instances DROP CONSTRAINT {ONE_LOCATION}")
        await conn.execute(_item(scene.coin, room_id="town.square"))
    try:
        found = await violations(database_url, small_world)
    finally:
        if postgres:
            async with unguarded(database_url) as conn:
                await conn.execute(sa.delete(ItemRow).where(ItemRow.id == scene.coin))
                await conn.exec_driver_sql(
                    f"ALTER TABLE item_instances ADD CONSTRAINT {ONE_LOCATION} CHECK ("
                    "(CASE WHEN owner_player_id IS NULL THEN 0 ELSE 1 END)"
                    " + (CASE WHEN container_id IS NULL THEN 0 ELSE 1 END)"
                    " + (CASE WHEN room_id IS NULL THEN 0 ELSE 1 END) = 1)"
                )

    assert [v.rule for v in found] == ["item_place"], found
    assert "2 places" in found[0].detail


def kadath_db_check(database: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KADATH_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "KADATH_DATA_DIR": str(database.parent),
    }
    return subprocess.run(
        [sys.executable, "-m", "kadath", "db", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_refuses_a_database_that_was_never_migrated(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    done = kadath_db_check(tmp_path / "empty.db")
    assert done.returncode == 1, done
    assert done.stdout.startswith("schema: empty: not at revision"), done.stdout


def test_the_cli_creates_no_database_where_there_is_none(tmp_path: Path) -> None:
    done = kadath_db_check(tmp_path / "absent" / "kadath.db")
    assert done.returncode == 1, done
    assert done.stdout.endswith("kadath.db: no database file here\n"), done.stdout
    assert not (tmp_path / "absent" / "kadath.db").exists()
