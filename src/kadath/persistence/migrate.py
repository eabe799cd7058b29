"""Applying Alembic migrations from inside the running event loop, on an async engine.

Alembic (and Mako) are imported only when a migration runs: a start on a database already at
head costs one cheap query instead (``is_at_head``). The server migrates in a child process
(``upgrade_apart``), so even a first start never loads Alembic, Mako or the migration modules
into the process that then serves for days.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
URL_VARIABLE = "KADATH_MIGRATE_URL"  # the child's database URL: never on a command line
CHILD_MODULE = "kadath.persistence.upgrade"
STDERR_TAIL = 2000  # characters of a failed child's stderr quoted in MigrationFailed
_REVISION = re.compile(r"""^revision(?::[^=\n]*)?=\s*["']([^"'\n]+)["']""", re.MULTILINE)
_DOWN = re.compile(
    r"""^down_revision(?::[^=\n]*)?=\s*(?:None|["']([^"'\n]+)["'])\s*$""", re.MULTILINE
)


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def script_head(versions: Path = MIGRATIONS_DIR / "versions") -> str | None:
    """The one head revision of the migration files, read without importing Alembic; None when
    a file does not say plainly (a merge, branches): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def is_at_head(engine: AsyncEngine) -> bool:
    """Whether the database's schema is at the migration files' head (False when unsure)."""
    head = await asyncio.to_thread(script_head)
    if head is None:
        return False
    async with engine.connect() as conn:
        return await conn.run_sync(_stamped_with, head)


def _stamped_with(connection: Connection, head: str) -> bool:
    if not inspect(connection).has_table(VERSION_TABLE):
        return False
    stamped = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()  # noqa: S608
    return list(stamped) == [head]


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (Alembic runs inside ``run_sync``: no blocking)."""
    async with engine.begin() as conn:
        await conn.run_sync(_run, "upgrade", revision)


class MigrationFailed(RuntimeError):
    """The migration child process failed: its exit status and the end of its stderr."""


def can_migrate_apart(url: str) -> bool:
    """Whether another process sees the same database (not so for in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return True
    from sqlalchemy import make_url

    parsed = make_url(url)
    database = parsed.database
    return bool(database) and database != ":memory:" and parsed.query.get("mode") != "memory"


async def upgrade_apart(
    url: str, revision: str = "head", *, statement_timeout_ms: int = 10_000
) -> None:
    """Bring the schema up to ``revision`` in a child process (``python -m
    kadath.persistence.upgrade``) and wait for it. Raises MigrationFailed."""
    env = {**os.environ, URL_VARIABLE: url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        CHILD_MODULE,
        revision,
        str(statement_timeout_ms),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await process.communicate()
    except BaseException:  # cancelled (a stop during start-up): the child goes too
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        tail = err.decode(errors="replace").strip()[-STDERR_TAIL:]
        raise MigrationFailed(
            f"the database migration failed (exit status {process.returncode}):\n{tail}"
        )


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def _run(connection: Connection, action: str, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)
