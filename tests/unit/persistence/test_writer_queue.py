"""The SQLite writers' queue on its own: turns in order, one per task, bounded waits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kadath.domain.errors import DatabaseUnavailable
from kadath.persistence.engine import create_engine, create_reader_engine
from kadath.persistence.writers import NestedWrite, WriterQueue, writer_queue


async def test_turns_are_given_in_the_order_asked() -> None:
    queue = WriterQueue()
    order: list[int] = []

    async def writer(index: int) -> None:
        async with queue.turn():
            order.append(index)
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(i) for i in range(8)))

    assert order == list(range(8))
    assert (queue.turns, queue.waited, queue.waiting) == (8, 7, 0)


async def test_the_holder_asking_again_is_refused() -> None:
    queue = WriterQueue()
    async with queue.turn():
        with pytest.raises(NestedWrite):
            await queue.acquire()
    async with queue.turn():  # given back all the same
        pass


async def test_a_writer_waits_at_most_the_timeout_then_the_database_is_unavailable() -> None:
    queue = WriterQueue(timeout=0.01)
    release = asyncio.Event()

    async def holder() -> None:
        async with queue.turn():
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    with pytest.raises(DatabaseUnavailable):
        await queue.acquire()
    assert queue.waiting == 0
    release.set()
    await task
    async with queue.turn():
        pass


def test_one_queue_per_sqlite_engine_and_none_for_postgresql_or_readers(tmp_path: Path) -> None:
    sqlite = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    readers = create_reader_engine(sqlite)
    postgres = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")

    assert writer_queue(sqlite) is not None
    assert writer_queue(sqlite) is writer_queue(sqlite)
    assert writer_queue(sqlite) is not writer_queue(other)
    assert readers is not None
    assert writer_queue(readers) is None
    assert writer_queue(postgres) is None
