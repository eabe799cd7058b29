"""``kadath serve`` migrates in a child process (``migrate.upgrade_apart``): the schema comes up
to head there, and a failed migration stops start-up with the child's own error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.bootstrap import start_runtime
from kadath.persistence import migrate
from kadath.settings import Settings


def settings_for(data_dir: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        secret_key="s" * 40,
        telnet_port=0,
        npc_spawning=False,
        log_level="WARNING",
    )


async def test_the_child_brings_a_new_database_to_head(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'apart.db'}"
    await migrate.upgrade_apart(url)
    engine = create_async_engine(url)
    try:
        assert await migrate.is_at_head(engine)
    finally:
        await engine.dispose()


async def test_a_failed_migration_stops_start_up_with_the_childs_error(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "kadath.db") as db:  # stamped with a revision nobody has
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('nosuchrevision')")
    with pytest.raises(migrate.MigrationFailed, match="nosuchrevision"):
        async with start_runtime(settings_for(tmp_path)):
            pass


def test_only_a_database_another_process_sees_is_migrated_apart() -> None:
    assert migrate.can_migrate_apart("sqlite+aiosqlite:////tmp/kadath.db")
    assert migrate.can_migrate_apart("postgresql+asyncpg://u@h/db")
    assert not migrate.can_migrate_apart("sqlite+aiosqlite://")
    assert not migrate.can_migrate_apart("sqlite+aiosqlite:///:memory:")
    assert not migrate.can_migrate_apart("sqlite+aiosqlite:///file:x?mode=memory&uri=true")
