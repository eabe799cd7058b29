"""Lone atomic deltas without an ORM session: Core statements on a pooled connection.

The facade's one-call ``damage_player`` / ``heal_player`` / ``update_player_health`` go through
``HealthDeltas``: the calls made in the same turn of the event loop are coalesced into **one**
statement, ``UPDATE players SET health = CASE … END FROM (<the batch's ids and deltas>) AS d
WHERE players.id = d.id RETURNING players.id, players.health``, executed as its own
transaction (autocommit on PostgreSQL: one round trip; ``BEGIN IMMEDIATE`` on SQLite). The
database computes every new value from the row's current one and clamps it, so concurrent
writers lose no update, exactly as with one statement per call. A batch never holds two deltas
for one character (a second one waits for the next statement, in order), so every caller gets
the health its own delta left. A failed statement applies none of its deltas and fails every
caller in it; a character that does not exist fails only its own caller (PlayerNotFound).

Nothing runs unowned: the first caller of a batch yields once (so the calls started beside it
join), then runs the batch as a task the ``HealthDeltas`` keeps until it is done; ``close``
waits for the ones in flight before the engine is disposed.

Inside a unit of work the repositories keep using that unit's session and transaction: only
lone calls are coalesced here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kadath.domain.errors import PlayerNotFound
from kadath.domain.player import HEALTH_FLOOR
from kadath.persistence.models import PlayerRow

# Given the exception a statement raised, the one each caller should see (a Kadath error, or
# the exception itself for a bug). Called once per failed statement.
Translate = Callable[[BaseException], BaseException]
FaultHook = Callable[[str], None]

_PG_SOURCE = (
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:deltas AS integer[])) AS t(id, delta)"
)
_SQLITE_SOURCE = (
    "SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS delta "
    "FROM json_each(:payload)"
)


def batch_source(dialect: str) -> sa.Subquery:
    """The (id, delta) pairs of a batch as a table ``d``: bound as two arrays on PostgreSQL,
    one JSON document on SQLite (see ``batch_parameters``), so the statement's text never
    changes with the batch's size and stays prepared."""
    return (
        sa.text(_PG_SOURCE if dialect == "postgresql" else _SQLITE_SOURCE)
        .columns(sa.column("id"), sa.column("delta", sa.Integer))
        .subquery("d")
    )


def batch_health_update(dialect: str) -> sa.Update:
    """One clamped health update for many (id, delta) pairs (PostgreSQL or SQLite ≥ 3.35)."""
    source = batch_source(dialect)
    players = cast(sa.Table, PlayerRow.__table__)
    raw = players.c.health + source.c.delta
    value = sa.case(
        (raw > players.c.max_health, players.c.max_health),
        (raw < HEALTH_FLOOR, HEALTH_FLOOR),
        else_=raw,
    )
    return (
        sa.update(players)
        .where(players.c.id == source.c.id)
        .values(health=value)
        .returning(players.c.id, players.c.health)
    )


def batch_parameters(dialect: str, pairs: list[tuple[uuid.UUID, int]]) -> dict[str, Any]:
    if dialect == "postgresql":
        return {"ids": [p for p, _ in pairs], "deltas": [d for _, d in pairs]}
    # sa.Uuid stores 32 hex digits on SQLite
    return {"payload": json.dumps([[p.hex, d] for p, d in pairs])}


@dataclass(slots=True)
class _Call:
    player_id: uuid.UUID
    delta: int
    future: asyncio.Future[int]


class HealthDeltas:
    """Coalesces concurrent lone health deltas into one statement per loop turn."""

    def __init__(
        self,
        engine: AsyncEngine,
        translate: Translate,
        fault: Callable[[], FaultHook | None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._statement = batch_health_update(self._dialect)
        self._translate = translate
        self._fault = fault
        self._open: list[_Call] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.statements = 0  # executed batch statements (for tests and benchmarks)

    async def apply(self, player_id: uuid.UUID, delta: int) -> int:
        """Add ``delta`` to the character's health, clamped; returns the new health.
        Raises PlayerNotFound, DatabaseUnavailable."""
        call = _Call(player_id, delta, asyncio.get_running_loop().create_future())
        if self._open is not None:
            self._open.append(call)
            return await call.future
        batch = self._open = [call]
        try:
            await asyncio.sleep(0)  # the calls started in this loop turn join the batch
        except BaseException:
            batch.remove(call)  # cancelled before anything was sent
            raise
        finally:
            if self._open is batch:
                self._open = None
            if batch:
                task = asyncio.create_task(self._run(batch), name="health-deltas")
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        return await call.future

    async def close(self) -> None:
        """Wait for the batches in flight (before the engine is disposed)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _run(self, batch: list[_Call]) -> None:
        """The batch on one pooled connection, as few statements as exactness allows.

        Each character's calls are cut into runs of the same sign, in the order they were
        made. Statement k holds the k-th run of every character. A run of one call is the
        plain clamped update; a longer run (many blows on one character at once) is added up
        and applied in one update, and each caller's result is computed from the health the
        row held before: a run of blows stops at 0 and a run of heals at max health exactly as
        one call after another would, so every caller sees the health its own call left."""
        steps = _steps(batch)
        try:
            async with self._engine.connect() as conn:
                if self._dialect == "postgresql":
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                while steps:
                    await self._execute(conn, steps[0])
                    steps.pop(0)
        except Exception as exc:  # no connection: nothing of what is left was sent
            self._fail([c for step in steps for run in step for c in run], exc)
        finally:
            for call in batch:
                if not call.future.done():
                    call.future.cancel()

    async def _execute(self, conn: AsyncConnection, runs: list[list[_Call]]) -> None:
        calls = [c for run in runs for c in run]
        pairs = [(run[0].player_id, sum(c.delta for c in run)) for run in runs]
        summed = any(len(run) > 1 for run in runs)
        parameters = batch_parameters(self._dialect, pairs)
        before: dict[uuid.UUID, tuple[int, int]] = {}
        try:
            fault = self._fault()
            if fault is not None:
                fault("execute")
            async with contextlib.AsyncExitStack() as stack:
                if summed and self._dialect == "postgresql":
                    # A real transaction: the rows are locked, read, then updated.
                    if conn.in_transaction():
                        await conn.commit()  # the autocommit statements' (nothing is sent)
                    level = self._engine.dialect.default_isolation_level or "READ COMMITTED"
                    await conn.execution_options(isolation_level=level)
                    stack.push_async_callback(conn.execution_options, isolation_level="AUTOCOMMIT")
                if summed or self._dialect != "postgresql":
                    # PostgreSQL: BEGIN; SQLite: BEGIN IMMEDIATE (the write lock, up front).
                    await stack.enter_async_context(conn.begin())
                if summed:
                    players = cast(sa.Table, PlayerRow.__table__)
                    locked = await conn.execute(
                        sa.select(players.c.id, players.c.health, players.c.max_health)
                        .where(players.c.id.in_([p for p, _ in pairs]))
                        .with_for_update()
                    )
                    before = {pid: (int(h), int(m)) for pid, h, m in locked}
                result = await conn.execute(self._statement, parameters)
                rows = {pid: int(health) for pid, health in result}
            self.statements += 1
        except Exception as exc:
            self._fail(calls, exc)
            return
        for run in runs:
            player_id = run[0].player_id
            health = rows.get(player_id)
            if health is None:
                for call in run:
                    if not call.future.done():
                        call.future.set_exception(PlayerNotFound("No such character."))
                continue
            results = [health]
            if len(run) > 1:
                value, top = before[player_id]
                results = []
                for call in run:
                    value = min(top, max(HEALTH_FLOOR, value + call.delta))
                    results.append(value)
            for call, value in zip(run, results, strict=True):
                if not call.future.done():  # else its caller was cancelled; it is stored
                    call.future.set_result(value)

    def _fail(self, calls: list[_Call], exc: BaseException) -> None:
        error = self._translate(exc)
        for call in calls:
            if not call.future.done():
                call.future.set_exception(fresh_error(error, exc))


@contextlib.asynccontextmanager
async def core_transaction(
    engine: AsyncEngine, *, single_statement: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A transaction on a pooled connection, without an ORM session: committed on a clean
    exit, rolled back on an exception. One statement on PostgreSQL runs in autocommit (it is
    its own transaction: no BEGIN/COMMIT round trips); SQLite always takes BEGIN IMMEDIATE."""
    if single_statement and engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
    else:
        async with engine.begin() as conn:
            yield conn


def _steps(batch: list[_Call]) -> list[list[list[_Call]]]:
    """Statement k holds the k-th same-sign run of each character's calls, in call order."""
    runs: dict[uuid.UUID, list[list[_Call]]] = {}
    for call in batch:
        mine = runs.setdefault(call.player_id, [])
        if mine and (mine[-1][-1].delta < 0) == (call.delta < 0):
            mine[-1].append(call)
        else:
            mine.append([call])
    steps: list[list[list[_Call]]] = []
    for mine in runs.values():
        for k, run in enumerate(mine):
            if k == len(steps):
                steps.append([])
            steps[k].append(run)
    return steps


def fresh_error(error: BaseException, cause: BaseException) -> BaseException:
    """A fresh instance per caller, so tracebacks do not pile up on one shared object."""
    if error is cause:
        return error  # a bug: raised as it is
    try:
        fresh = type(error)(*error.args)
    except TypeError:
        return error
    fresh.__cause__ = cause
    return fresh
