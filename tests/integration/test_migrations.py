"""Alembic migrations on a fresh database of each backend: upgrade, no drift, round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from kadath.persistence import migrate
from kadath.persistence.engine import create_engine
from kadath.persistence.models import Base

TABLES = set(Base.metadata.tables)


@pytest.fixture
async def engine(fresh_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_database_url, pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()


def _head() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    return head


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    return set(names) - {"alembic_version"}


async def _profession_names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT name FROM professions ORDER BY id"))
        return [r[0] for r in rows]


async def test_upgrade_from_empty_to_head_builds_every_table_and_seeds_professions(
    engine: AsyncEngine,
) -> None:
    assert await migrate.current_revision(engine) is None
    assert await _tables(engine) == set()

    await migrate.upgrade(engine)

    assert await migrate.current_revision(engine) == _head()
    assert await _tables(engine) == TABLES
    names = await _profession_names(engine)
    assert len(names) == 8
    assert names[0] == "Drifter"
    assert "Occult Scholar" in names


async def test_upgrading_an_up_to_date_database_changes_nothing(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)

    assert await migrate.current_revision(engine) == _head()
    assert len(await _profession_names(engine)) == 8


async def test_the_migrations_match_the_models_with_no_drift(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)

    def diff(connection: sa.Connection, metadata: sa.MetaData) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    # The comparison must be able to see a difference: a model with one column more.
    drifted = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["players"].append_column(sa.Column("shoe_size", sa.Integer))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff, Base.metadata)
        canary = await conn.run_sync(diff, drifted)

    assert differences == []
    assert [d[0] for d in canary] == ["add_column"]  # type: ignore[index]


async def test_downgrade_to_base_then_upgrade_to_head_again(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)

    await migrate.downgrade(engine, "base")

    assert await migrate.current_revision(engine) is None
    assert await _tables(engine) == set()

    await migrate.upgrade(engine, "head")

    assert await migrate.current_revision(engine) == _head()
    assert await _tables(engine) == TABLES
    assert len(await _profession_names(engine)) == 8


async def test_roles_migration_makes_admins_of_is_admin_accounts_and_back(
    engine: AsyncEngine,
) -> None:
    await migrate.upgrade(engine, "0001")
    insert = sa.text(
        "INSERT INTO accounts (id, username, username_key, password_hash, is_admin, created_at)"
        " VALUES (:id, :name, :name, 'x', :admin, CURRENT_TIMESTAMP)"
    )
    ids = {"warden": "0" * 31 + "1", "drifter": "0" * 31 + "2"}
    async with engine.begin() as conn:
        for name, admin in (("warden", True), ("drifter", False)):
            await conn.execute(insert, {"id": ids[name], "name": name, "admin": admin})

    await migrate.upgrade(engine, "0002_roles_moderation")
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT username, role FROM accounts ORDER BY 1"))
        assert [tuple(r) for r in rows] == [("drifter", "player"), ("warden", "admin")]

    await migrate.downgrade(engine, "0001")
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT username, is_admin FROM accounts ORDER BY 1"))
        assert [(r[0], bool(r[1])) for r in rows] == [("drifter", False), ("warden", True)]
