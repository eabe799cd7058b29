"""SQLite's writers, one at a time in arrival order: an in-process queue before its write lock.

SQLite has one write lock. A writer that finds it taken sleeps in SQLite's busy handler, which
polls with growing sleeps (up to 100 ms each) while holding a pooled connection: at 1,000
players the writers' p99 was set by those sleeps, not by the work. So on SQLite every write
transaction of this process (a unit of work that may write, a Core transaction, a batch of
health deltas) first takes its turn here: a FIFO ``asyncio.Lock``, handed straight to the next
writer when the last one ends. Readers (``create_reader_engine``) never queue. PostgreSQL has
row locks and no queue.

One task must not open a second write transaction while it holds the turn: it would wait for
itself. That raises ``NestedWrite`` at once; a write from another task that the holder awaits
fails after ``timeout`` seconds with ``DatabaseUnavailable``, as SQLite's busy timeout did.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

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


def writer_queue(engine: AsyncEngine) -> WriterQueue | None:
    """The one queue of ``engine``'s writers on SQLite (the same object on every call);
    None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    sync_engine = engine.sync_engine
    queue = _queues.get(sync_engine)
    if queue is None:
        timeout = getattr(engine.pool, "timeout", None)
        queue = WriterQueue(float(timeout()) if callable(timeout) else DEFAULT_TIMEOUT_SECONDS)
        _queues[sync_engine] = queue
    return queue


@contextlib.asynccontextmanager
async def write_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """The write turn of ``engine`` on SQLite; nothing on PostgreSQL."""
    queue = writer_queue(engine)
    if queue is None:
        yield
        return
    async with queue.turn():
        yield
