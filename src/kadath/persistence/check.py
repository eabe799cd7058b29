"""Checking a database at rest: reads every row once, in one read-only transaction, and lists
each broken invariant. ``find_violations`` is pure; ``check_database`` does the reading."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kadath.domain.experience import level_for_xp
from kadath.domain.item import ContainerKind
from kadath.domain.world import World
from kadath.persistence.migrate import alembic_config
from kadath.persistence.models import ContainerRow, ExplorationRow, ItemRow, PlayerRow
from kadath.persistence.uow import READ_ONLY

ROOMED_KINDS = {ContainerKind.ENVIRONMENT.value, ContainerKind.CORPSE.value}


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: which rule, of what row, and how."""

    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The rows the invariants are about, as read in one transaction."""

    players: list[tuple[Any, ...]]  # id, name, room, respawn room, health, experience, level
    containers: list[tuple[Any, ...]]  # id, kind, name, room, owner, item, key prototype
    items: list[tuple[Any, ...]]  # id, prototype, owner, container, room
    explored: list[tuple[Any, ...]]  # player id, room

    def summary(self) -> str:
        return (
            f"{len(self.players)} characters, {len(self.items)} items, "
            f"{len(self.containers)} containers"
        )


async def check_database(
    engine: AsyncEngine, world: World
) -> tuple[Snapshot | None, list[Violation]]:
    """Read the database (never writing) and list what is wrong; the snapshot is None when
    the schema is not at the head revision, which is then the only violation."""
    missing = _missing_sqlite_file(engine)
    if missing is not None:
        return None, [missing]
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # A plain BEGIN (engine.py): under WAL it neither waits for nor blocks a writer.
            conn = await conn.execution_options(**{READ_ONLY: True})
        else:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            if conn.dialect.name != "sqlite":
                await conn.execute(sa.text("SET TRANSACTION READ ONLY"))
            schema = await conn.run_sync(_schema_problem)
            if schema is not None:
                return None, [schema]
            snapshot = await _read(conn)
    return snapshot, find_violations(snapshot, world)


def _missing_sqlite_file(engine: AsyncEngine) -> Violation | None:
    """Connecting would create an empty SQLite file: a check must not write anything."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or Path(path).exists():
        return None
    return Violation("schema", path, "no database file here")


def _schema_problem(connection: sa.Connection) -> Violation | None:
    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current == head:
        return None
    return Violation(
        "schema", str(current or "empty"), f"not at revision {head}; run `kadath db upgrade`"
    )


async def _read(conn: AsyncConnection) -> Snapshot:
    players = await conn.execute(
        sa.select(
            PlayerRow.id,
            PlayerRow.name,
            PlayerRow.room_id,
            PlayerRow.respawn_room_id,
            PlayerRow.health,
            PlayerRow.experience,
            PlayerRow.level,
        )
    )
    containers = await conn.execute(
        sa.select(
            ContainerRow.id,
            ContainerRow.kind,
            ContainerRow.name,
            ContainerRow.room_id,
            ContainerRow.owner_player_id,
            ContainerRow.item_id,
            ContainerRow.key_prototype_id,
        )
    )
    items = await conn.execute(
        sa.select(
            ItemRow.id,
            ItemRow.prototype_id,
            ItemRow.owner_player_id,
            ItemRow.container_id,
            ItemRow.room_id,
        )
    )
    explored = await conn.execute(sa.select(ExplorationRow.player_id, ExplorationRow.room_id))
    return Snapshot(
        [tuple(r) for r in players],
        [tuple(r) for r in containers],
        [tuple(r) for r in items],
        [tuple(r) for r in explored],
    )


def find_violations(snapshot: Snapshot, world: World) -> list[Violation]:
    """Every broken invariant of ``snapshot`` against the world files, in a stable order."""
    return [
        *_players(snapshot, world),
        *_items(snapshot, world),
        *_containers(snapshot, world),
        *_cycles(snapshot),
        *_explored(snapshot, world),
    ]


def _players(snapshot: Snapshot, world: World) -> Iterator[Violation]:
    for pid, name, room_id, respawn_id, health, experience, level in snapshot.players:
        who = f"character {name} ({pid})"
        if room_id not in world.rooms:
            yield Violation("unknown_room", who, f"stands in {room_id!r}, not in the world files")
        if respawn_id not in world.rooms:
            yield Violation("unknown_room", who, f"respawns in {respawn_id!r}, not in the world")
        if health <= 0:
            yield Violation("dead_on_its_feet", who, f"health {health} and no death recorded")
        expected = level_for_xp(experience) if experience >= 0 else None
        if level != expected:
            yield Violation(
                "level", who, f"level {level} with {experience} experience (expected {expected})"
            )


def _items(snapshot: Snapshot, world: World) -> Iterator[Violation]:
    players = {row[0] for row in snapshot.players}
    containers = {row[0] for row in snapshot.containers}
    for iid, prototype, owner, container, room in snapshot.items:
        what = f"item {iid} ({prototype})"
        if prototype not in world.items:
            yield Violation("unknown_prototype", what, "prototype not in the world files")
        places = [p for p in (owner, container, room) if p is not None]
        if len(places) != 1:
            yield Violation("item_place", what, f"in {len(places)} places, not exactly one")
        if owner is not None and owner not in players:
            yield Violation("item_place", what, f"carried by a missing character {owner}")
        if container is not None and container not in containers:
            yield Violation("item_place", what, f"inside a missing container {container}")
        if room is not None and room not in world.rooms:
            yield Violation("unknown_room", what, f"lies in {room!r}, not in the world files")


def _containers(snapshot: Snapshot, world: World) -> Iterator[Violation]:
    players = {row[0] for row in snapshot.players}
    items = {row[0] for row in snapshot.items}
    for cid, kind, name, room, owner, item, key in snapshot.containers:
        what = f"container {cid} ({name})"
        if kind == ContainerKind.CORPSE.value and owner is not None and owner not in players:
            yield Violation("corpse_owner", what, f"owned by a missing character {owner}")
        if kind in ROOMED_KINDS:
            if room is None or item is not None:
                yield Violation("container_place", what, f"a {kind} must lie in a room only")
            elif room not in world.rooms:
                yield Violation("unknown_room", what, f"lies in {room!r}, not in the world files")
        elif kind == ContainerKind.WEARABLE.value:
            if room is not None or item is None:
                yield Violation("container_place", what, "a bag must live in its item only")
            elif item not in items:
                yield Violation("container_place", what, f"its bag item {item} is missing")
        else:
            yield Violation("container_place", what, f"unknown kind {kind!r}")
        if key is not None and key not in world.items:
            yield Violation("unknown_prototype", what, f"key {key!r} not in the world files")


def _cycles(snapshot: Snapshot) -> Iterator[Violation]:
    """A bag inside itself, directly or through other bags: its item's container chain
    comes back to it, and the whole ring is out of the world."""
    item_of_bag = {row[0]: row[5] for row in snapshot.containers if row[5] is not None}
    item_in = {row[0]: row[3] for row in snapshot.items if row[3] is not None}
    reported: set[uuid.UUID] = set()
    for start in sorted(item_of_bag):
        ring = _ring_from(start, item_of_bag, item_in)
        if ring and not reported.intersection(ring):
            reported.update(ring)
            path = " -> ".join(str(c) for c in ring)
            yield Violation("container_cycle", f"container {start}", f"inside itself: {path}")


def _ring_from(
    start: uuid.UUID, item_of_bag: dict[uuid.UUID, uuid.UUID], item_in: dict[uuid.UUID, uuid.UUID]
) -> list[uuid.UUID]:
    """The bags from ``start`` round to ``start`` again, or [] when the chain ends."""
    seen: list[uuid.UUID] = []
    current: uuid.UUID | None = start
    while current is not None and current not in seen:
        seen.append(current)
        item = item_of_bag.get(current)
        current = item_in.get(item) if item is not None else None
    if current != start:
        return []
    return seen


def _explored(snapshot: Snapshot, world: World) -> Iterator[Violation]:
    for player_id, room_id in snapshot.explored:
        if room_id not in world.rooms:
            yield Violation(
                "unknown_room", f"character {player_id}", f"explored {room_id!r}, not in the world"
            )
