"""Start-up asks the database for its schema revision with one query and runs Alembic only when
it is behind: the check must agree with Alembic about the head and about the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from kadath.persistence import migrate
from kadath.persistence.engine import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
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
