"""SQLite's writers, one at a time in arrival order: an in-process queue before its write lock.

SQLite has one write lock. A writer that finds it taken sleeps in SQLite's busy handler, which
polls with growing sleeps (up to 100 ms each) while holding a pooled connection: at 1,000
players the writers' p99 was set by those sleeps, not by the work. So on SQLite every write
transaction of this process takes its turn here where it would have taken the write lock: the
engine's ``begin`` hook waits in a FIFO ``asyncio.Lock`` before ``BEGIN IMMEDIATE``, and the
pool's ``checkin`` hook hands the turn to the next writer once the connection is back (after
its commit or rollback). Every writer on the engine queues: units of work, Core transactions,
batches of deltas, migrations. Taking the turn at the first statement rather than when a unit
of work is entered keeps the order in which locks are taken what it was. Readers
(``create_reader_engine``, read-only units of work) never queue. PostgreSQL has no queue.

One task must not open a second write transaction while it holds the turn: it would wait for
itself. That raises ``NestedWrite`` at once; a write from another task that the holder awaits
fails after ``timeout`` seconds with ``DatabaseUnavailable``, as SQLite's busy timeout did.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

from kadath.domain.errors import DatabaseUnavailable
from kadath.persistence.errors import UNAVAILABLE

DEFAULT_TIMEOUT_SECONDS = 10.0


class NestedWrite(RuntimeError):
    """A task that holds the write turn asked for another: a bug in the caller."""


class WriterQueue:
    """Write transactions one at a time, in the order they asked (``async with queue.turn()``,
    or ``acquire`` and ``release``)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[object] | None = None
        self.waiting = 0  # writers queued now
        self.turns = 0  # turns given (for tests and benchmarks)
        self.waited = 0  # of those, the ones that had to queue

    async def acquire(self) -> None:
        """Wait for this task's turn. Raises NestedWrite if the task holds it already,
        DatabaseUnavailable after ``timeout`` seconds in the queue."""
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise NestedWrite(
                "this task already holds SQLite's write turn: a write unit of work (or Core "
                "transaction) opened inside another would wait for itself; finish the outer "
                "one first, or do the work in the outer one"
            )
        if self._lock.locked() or self.waiting:
            self.waiting += 1
            self.waited += 1
            try:
                async with asyncio.timeout(self.timeout):
                    await self._lock.acquire()
            except TimeoutError as exc:
                raise DatabaseUnavailable(UNAVAILABLE) from exc
            finally:
                self.waiting -= 1
        else:
            await self._lock.acquire()
        self._holder = task
        self.turns += 1

    def release(self) -> None:
        self._holder = None
        self._lock.release()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()


_queues: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()
_HOLDS_TURN = "kadath_holds_write_turn"


def register_writer_queue(engine: AsyncEngine, timeout: float) -> WriterQueue:
    """Make ``engine``'s queue (called once, as the SQLite engine is built)."""
    queue = WriterQueue(timeout)
    _queues[engine.sync_engine] = queue
    return queue


def writer_queue(engine: AsyncEngine) -> WriterQueue | None:
    """The queue of ``engine``'s writers: None on PostgreSQL and for SQLite's reader engine."""
    return _queues.get(engine.sync_engine)


def take_turn(queue: WriterQueue, record_info: dict[str, Any] | None) -> None:
    """From the engine's ``begin`` hook (inside SQLAlchemy's greenlet): wait for the turn,
    unless this pooled connection holds it already (a second transaction on it before it
    went back to the pool). Raises NestedWrite, DatabaseUnavailable."""
    if record_info is None or record_info.get(_HOLDS_TURN):
        return
    await_(queue.acquire())
    record_info[_HOLDS_TURN] = True


def give_turn_back(queue: WriterQueue, record_info: dict[str, Any]) -> None:
    """From the pool's ``checkin`` hook: the connection's writer is done."""
    if record_info.pop(_HOLDS_TURN, False):
        queue.release()
