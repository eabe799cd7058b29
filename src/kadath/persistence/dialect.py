"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def upsert(session: AsyncSession, table: sa.Table, keys: list[str], update: list[str]) -> Any:
    """An ``INSERT … ON CONFLICT (keys) DO UPDATE`` for the session's database."""
    make = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    stmt = make(table)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={col: stmt.excluded[col] for col in update}
    )


def insert_ignore(session: AsyncSession, table: sa.Table, keys: list[str]) -> Any:
    """An ``INSERT … ON CONFLICT DO NOTHING`` for the session's database."""
    make = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    return make(table).on_conflict_do_nothing(index_elements=keys)
