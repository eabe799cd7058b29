"""Start-up asks the database for its schema revision with one query and runs Alembic only when
it is behind: the check must agree with Alembic about the head and about the database."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kadath.persistence import migrate
from kadath.persistence.engine import create_engine

PG_URL = os.environ.get("KADATH_TEST_POSTGRES_URL")


@contextlib.asynccontextmanager
async def empty_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}"
        return
    if not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    name = f"kadath_schema_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with empty_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        yield engine
        await engine.dispose()


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    alembic_head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert migrate.script_head() == alembic_head


def test_a_merge_or_a_branch_leaves_the_decision_to_alembic(tmp_path: Path) -> None:
    for name, revision, down in [("a", "a", None), ("b", "b", "a"), ("c", "c", "a")]:
        parent = f'"{down}"' if down else "None"
        (tmp_path / f"{name}.py").write_text(f'revision = "{revision}"\ndown_revision = {parent}\n')
    assert migrate.script_head(tmp_path) is None  # two heads
    (tmp_path / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    assert migrate.script_head(tmp_path) is None  # a merge: not read by hand


async def test_an_empty_database_is_behind(engine: AsyncEngine) -> None:
    assert not await migrate.is_at_head(engine)


async def test_a_migrated_database_is_at_head(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    assert await migrate.is_at_head(engine)


async def test_a_database_one_revision_down_is_behind(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    await migrate.downgrade(engine, "-1")
    assert not await migrate.is_at_head(engine)
