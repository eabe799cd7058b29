"""First visits written in groups: every first visit made while the previous group was being
written goes into the next one, as **one** transaction of a few Core statements, whatever its
size (no ORM session):

1. ``INSERT INTO explored_rooms … ON CONFLICT DO NOTHING RETURNING player_id, room_id`` for
   the whole group (an executemany): the rows returned are the visits that really were first;
2. ``UPDATE players SET experience = experience + d.delta FROM (<ids and amounts>) AS d …
   RETURNING …``: their experience in one statement;
3. a level-up, when one is earned, as ``ExperienceRepository`` does it (rare);

then the commit. Each caller gets its own result (the ``ExperienceGain``, or None when the room
was visited before) only once the group committed, and changes memory after that, as always. A
failed group stores none of its visits and fails every caller in it, exactly as a failed unit
of work would fail one. On SQLite, whose one writer serialises every write, this turns a crowd's
first visits from one write transaction each into one per group.

The group is written by a task this object starts when the first visit arrives and keeps until
no visit is waiting; ``close`` waits for it before the engine is disposed.

``gnaw`` is the other write a walk makes: a room's lucidity cost on a room already visited. It
joins the same groups: the costs taken while the previous group was being written go into the
next one's transaction as **one** more statement (``UPDATE players SET lucidity = <clamped>
FROM (<ids and deltas>) … RETURNING``), and each caller gets the lucidity its row was left with
once the group committed. One writer for all of a walk's writes: on SQLite a second one would
only wait for the first in SQLite's busy handler, holding one of its three pooled connections.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kadath.domain.errors import PlayerNotFound
from kadath.domain.player import Player
from kadath.domain.stats import MAX_LUCIDITY
from kadath.persistence.deltas import (
    FaultHook,
    Translate,
    batch_parameters,
    batch_source,
    core_transaction,
    fresh_error,
)
from kadath.persistence.dialect import insert_for
from kadath.persistence.models import ExplorationRow, PlayerRow, utcnow
from kadath.persistence.repositories.experience import ExperienceGain, ExperienceRepository


@dataclass(slots=True)
class _Visit:
    player: Player
    room_id: str
    amount: int
    future: asyncio.Future[ExperienceGain | None]


@dataclass(slots=True)
class _Gnaw:
    player_id: uuid.UUID
    cost: int
    future: asyncio.Future[int]


class FirstVisits:
    """Records first visits and pays their experience, a group per transaction."""

    def __init__(
        self,
        engine: AsyncEngine,
        translate: Translate,
        fault: Callable[[], FaultHook | None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._translate = translate
        self._fault = fault
        dialect = engine.dialect.name
        self._dialect = dialect
        make = insert_for(dialect)
        table = cast(sa.Table, ExplorationRow.__table__)
        self._insert = (
            make(table)
            .on_conflict_do_nothing(index_elements=["player_id", "room_id"])
            .returning(table.c.player_id, table.c.room_id)
        )
        source = batch_source(dialect)
        players = cast(sa.Table, PlayerRow.__table__)
        self._gain = (
            sa.update(players)
            .where(players.c.id == source.c.id)
            .values(experience=players.c.experience + source.c.delta)
            .returning(
                players.c.id,
                players.c.experience,
                players.c.level,
                players.c.max_health,
                players.c.health,
            )
        )
        raw = players.c.lucidity + source.c.delta
        self._lucidity_update = (
            sa.update(players)
            .where(players.c.id == source.c.id)
            .values(lucidity=sa.case((raw > MAX_LUCIDITY, MAX_LUCIDITY), (raw < 0, 0), else_=raw))
            .returning(players.c.id, players.c.lucidity)
        )
        self._waiting: list[_Visit] = []
        self._writer: asyncio.Task[None] | None = None
        self._gnaws: list[_Gnaw] = []
        self.groups = 0  # committed groups (for tests and benchmarks)
        self.gnaw_statements = 0  # committed lucidity statements (for tests and benchmarks)

    async def record(self, player: Player, room_id: str, amount: int) -> ExperienceGain | None:
        """Record that ``player`` has been in ``room_id``; if it is the first time, add
        ``amount`` experience (and the level it earns). Returns the row's new values, or None
        when the room was visited before; ``player`` is not changed. Raises
        DatabaseUnavailable (and nothing is stored)."""
        visit = _Visit(player, room_id, amount, asyncio.get_running_loop().create_future())
        self._waiting.append(visit)
        self._start()
        return await visit.future

    async def gnaw(self, player_id: uuid.UUID, cost: int) -> int:
        """Take ``cost`` lucidity (clamped at 0) for entering a gnawing room, in the next group
        with the others taken meanwhile; returns the lucidity the row was left with (memory is
        the caller's to change, after this returns). Raises PlayerNotFound,
        DatabaseUnavailable (and nothing is stored)."""
        gnaw = _Gnaw(player_id, cost, asyncio.get_running_loop().create_future())
        self._gnaws.append(gnaw)
        self._start()
        return await gnaw.future

    def _start(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="first-visits")

    async def close(self) -> None:
        """Wait for the group being written (before the engine is disposed)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write(self) -> None:
        await asyncio.sleep(0)  # the visits made in this loop turn join the first group
        while self._waiting or self._gnaws:
            group, self._waiting = self._waiting, []
            gnaws, self._gnaws = self._gnaws, []
            futures: list[asyncio.Future[Any]] = [v.future for v in group]
            futures += [g.future for g in gnaws]
            try:
                results, values = await self._store(group, gnaws)
            except asyncio.CancelledError:
                for future in [*futures, *(v.future for v in self._waiting)]:
                    future.cancel()  # nobody is left waiting
                for gnaw in self._gnaws:
                    gnaw.future.cancel()
                raise
            except Exception as exc:
                error = self._translate(exc)
                for future in futures:
                    if not future.done():
                        future.set_exception(fresh_error(error, exc))
                continue
            for visit, result in zip(group, results, strict=True):
                if not visit.future.done():  # else its caller went away; it is stored
                    visit.future.set_result(result)
            for gnaw in gnaws:
                if gnaw.future.done():
                    continue
                value = values.get(gnaw.player_id)
                if value is None:
                    gnaw.future.set_exception(PlayerNotFound("No such character."))
                else:
                    gnaw.future.set_result(value)

    async def _store(
        self, group: list[_Visit], gnaws: list[_Gnaw]
    ) -> tuple[list[ExperienceGain | None], dict[uuid.UUID, int]]:
        """The group's visits and lucidity costs, one transaction."""
        fault = self._fault()
        results: list[ExperienceGain | None] = []
        values: dict[uuid.UUID, int] = {}
        async with core_transaction(self._engine) as conn:
            if group:
                results = await self._visits(conn, group, fault)
            if gnaws:
                values = await self._lucidity(conn, gnaws, fault)
            if fault is not None:
                fault("commit")
        self.groups += 1
        if gnaws:
            self.gnaw_statements += 1
        return results, values

    async def _visits(
        self, conn: AsyncConnection, group: list[_Visit], fault: FaultHook | None
    ) -> list[ExperienceGain | None]:
        if fault is not None:
            fault("execute")
        distinct = _distinct(group)  # the same room twice in one group is paid once
        rows = [
            {"player_id": v.player.id, "room_id": v.room_id, "first_visited_at": utcnow()}
            for v in distinct
        ]
        inserted = await conn.execute(self._insert, rows)
        first = {(pid, room) for pid, room in inserted}
        paid = [v for v in distinct if (v.player.id, v.room_id) in first]
        gains = await self._pay(conn, paid, fault)
        results: list[ExperienceGain | None] = []
        for visit in group:
            if (visit.player.id, visit.room_id) in first:
                first.discard((visit.player.id, visit.room_id))  # a duplicate gets None
                results.append(gains[visit.player.id].pop(0))
            else:
                results.append(None)
        return results

    async def _lucidity(
        self, conn: AsyncConnection, gnaws: list[_Gnaw], fault: FaultHook | None
    ) -> dict[uuid.UUID, int]:
        """One clamped update for the group's lucidity costs. Two costs for one character are
        added up: both only lower it, so the clamp at 0 leaves what one after the other would
        have, and both callers see that final value."""
        totals: dict[uuid.UUID, int] = {}
        for gnaw in gnaws:
            totals[gnaw.player_id] = totals.get(gnaw.player_id, 0) - gnaw.cost
        if fault is not None:
            fault("execute")
        result = await conn.execute(
            self._lucidity_update, batch_parameters(self._dialect, list(totals.items()))
        )
        return {pid: int(lucidity) for pid, lucidity in result}

    async def _pay(
        self, conn: AsyncConnection, paid: list[_Visit], fault: FaultHook | None
    ) -> dict[uuid.UUID, list[ExperienceGain]]:
        """One experience update for the group; a level-up each where one is earned."""
        if not paid:
            return {}
        totals: dict[uuid.UUID, int] = {}
        players: dict[uuid.UUID, Player] = {}
        for visit in paid:
            totals[visit.player.id] = totals.get(visit.player.id, 0) + visit.amount
            players[visit.player.id] = visit.player
        if fault is not None:
            fault("execute")
        result = await conn.execute(
            self._gain, batch_parameters(self._dialect, list(totals.items()))
        )
        rows: dict[uuid.UUID, Any] = {row[0]: row for row in result}
        repository = ExperienceRepository(conn)
        gains: dict[uuid.UUID, list[ExperienceGain]] = {}
        for player_id, player in players.items():
            row = rows.get(player_id)
            if row is None:
                raise PlayerNotFound("No such character.")
            experience, old_level, max_health, health = (int(v) for v in row[1:])
            gain = await repository.settle_level(player, experience, old_level, max_health, health)
            # Two first visits of one character in one group: both see the final values, and
            # only the last one reports the level-up.
            count = sum(1 for v in paid if v.player.id == player_id)
            quiet = ExperienceGain(
                gain.experience, gain.level, gain.level, gain.max_health, gain.health
            )
            gains[player_id] = [quiet] * (count - 1) + [gain]
        return gains


def _distinct(group: list[_Visit]) -> list[_Visit]:
    seen: set[tuple[uuid.UUID, str]] = set()
    out: list[_Visit] = []
    for visit in group:
        key = (visit.player.id, visit.room_id)
        if key not in seen:
            seen.add(key)
            out.append(visit)
    return out
