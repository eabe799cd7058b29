"""Integration helpers: read the database back directly, and build saved players and containers.

Every assertion about persistence should rest on what these helpers read from the tables, not on
what a repository method returned."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kadath.domain.account import Account
from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.item import Container, ContainerKind, Location
from kadath.domain.player import Player
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.mapping import location_of
from kadath.persistence.models import (
    AccountRow,
    ContainerRow,
    ItemRow,
    PlayerRow,
)

SavePlayer = Callable[..., Awaitable[Player]]
MakeContainer = Callable[..., Awaitable[Container]]


class StoredState:
    """Reads the tables directly, on a fresh connection outside any unit of work."""

    def __init__(self, persistence: AsyncPersistenceLayer) -> None:
        self._engine = persistence.engine

    async def count(self, model: Any, *where: sa.ColumnElement[bool]) -> int:
        stmt = sa.select(sa.func.count()).select_from(model)
        if where:
            stmt = stmt.where(*where)
        async with self._engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def players(self) -> int:
        return await self.count(PlayerRow)

    async def items(self, *where: sa.ColumnElement[bool]) -> int:
        return await self.count(ItemRow, *where)

    async def accounts(self) -> int:
        return await self.count(AccountRow)

    async def containers(self) -> int:
        return await self.count(ContainerRow)

    async def player(self, player_id: uuid.UUID) -> Any:
        """The stored players row, or None."""
        async with self._engine.connect() as conn:
            stmt = sa.select(PlayerRow.__table__).where(PlayerRow.id == player_id)
            return (await conn.execute(stmt)).one_or_none()

    async def health(self, player_id: uuid.UUID) -> int:
        row = await self.player(player_id)
        assert row is not None, "player row missing"
        return int(row.health)

    async def place(self, item_id: uuid.UUID) -> Location | None:
        """Where the item is stored now, or None when it does not exist."""
        async with self._engine.connect() as conn:
            stmt = sa.select(ItemRow.__table__).where(ItemRow.id == item_id)
            row = (await conn.execute(stmt)).one_or_none()
        return None if row is None else location_of(row)  # type: ignore[arg-type]

    async def places(self, item_ids: list[uuid.UUID]) -> dict[uuid.UUID, Location]:
        return {i: p for i in item_ids if (p := await self.place(i)) is not None}


@pytest.fixture
def stored(persistence: AsyncPersistenceLayer) -> StoredState:
    return StoredState(persistence)


@pytest.fixture
def save_player(
    persistence: AsyncPersistenceLayer, account: Account, make_player: Any
) -> SavePlayer:
    """Build a player (fields as keyword arguments) on the test's account and save it."""

    async def save(**fields: Any) -> Player:
        player: Player = make_player(account, **fields)
        await persistence.save_player(player)
        return player

    return save


class Faults:
    """The unit of work's fault hook: counts the points it passes (each statement and each
    commit) and fails the ``fail_at``-th one, the way a lost connection would."""

    def __init__(self) -> None:
        self.seen, self.fail_at, self.failed = 0, 0, False

    def arm(self, fail_at: int) -> None:
        """Count from zero again and fail at point ``fail_at`` (0: never)."""
        self.seen, self.fail_at, self.failed = 0, fail_at, False

    def __call__(self, point: str) -> None:
        self.seen += 1
        if self.seen == self.fail_at:
            self.failed = True
            raise DatabaseUnavailable(f"injected failure before {point} #{self.seen}")


@pytest.fixture
def faults(persistence: AsyncPersistenceLayer) -> Iterator[Faults]:
    """A fault hook installed on the layer's units of work (disarmed until ``arm``)."""
    hook = Faults()
    persistence.fault = hook
    yield hook
    persistence.fault = None


@pytest.fixture
def make_container(persistence: AsyncPersistenceLayer) -> MakeContainer:
    """Create a container through the repository (in its own committed unit of work)."""

    async def make(
        capacity: int = 3,
        *,
        name: str = "a wooden crate",
        locked: bool = False,
        kind: ContainerKind = ContainerKind.ENVIRONMENT,
        room_id: str | None = "town.street",
        **options: Any,
    ) -> Container:
        async with persistence.unit_of_work() as uow:
            return await uow.containers.create_container(
                kind=kind, name=name, capacity=capacity, room_id=room_id, locked=locked, **options
            )

    return make


@pytest.fixture
async def chest(persistence: AsyncPersistenceLayer) -> Container:
    """The small world's seeded, locked iron chest (capacity 3, one razor inside)."""
    async with persistence.unit_of_work() as uow:
        found = await uow.containers.get_container_by_world_key("town.square.chest")
    assert found is not None
    return found


@pytest.fixture
async def fresh_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """An empty database of its own for one test (no migrations applied)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    server_url = os.environ.get("KADATH_TEST_POSTGRES_URL")
    if not server_url:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    fresh_postgres_database = _root_conftest(request).fresh_postgres_database
    async with fresh_postgres_database(server_url) as url:
        yield url


def _root_conftest(request: pytest.FixtureRequest) -> Any:
    """tests/conftest.py as pytest loaded it (conftests are not importable by name)."""
    wanted = Path(__file__).resolve().parent.parent / "conftest.py"
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == wanted:
            return plugin
    raise LookupError(f"{wanted} is not loaded")
