"""The fake unit of work keeps the real one's promises, so unit tests can catch memory or
messages that run ahead of the commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from combat_fakes import AfterCommit, FakeStore, FakeUnitOfWork, player_named

from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.item import ContainerKind, InInventory, OnFloor
from kadath.domain.player import Player


def stored(name: str = "Alice") -> tuple[FakeStore, Player]:
    store, alice = FakeStore(), player_named(name)
    store.add_player(alice)
    return store, alice


async def in_unit_of_work(
    store: FakeStore, work: Callable[[FakeUnitOfWork], Awaitable[None]]
) -> None:
    async with FakeUnitOfWork(store) as uow:
        await work(uow)


async def test_writes_reach_other_units_of_work_only_on_commit() -> None:
    store, alice = stored()
    outside = FakeUnitOfWork(store)

    async with FakeUnitOfWork(store) as uow:
        await uow.health.set_health(alice.id, 5)
        await uow.players.move_player(alice.id, "hall")
        mine = await uow.players.get_player_by_id(alice.id)
        async with outside as other:
            theirs = await other.players.get_player_by_id(alice.id)
        assert (mine.health, mine.room_id) == (5, "hall")
        assert (theirs.health, theirs.room_id) == (20, "crypt")
        assert (store.players[alice.id].health, store.players[alice.id].room_id) == (20, "crypt")

    async with FakeUnitOfWork(store) as later:
        after = await later.players.get_player_by_id(alice.id)
    assert (after.health, after.room_id) == (5, "hall")
    assert (store.commits, store.rollbacks) == (3, 0)


async def test_a_block_that_raises_leaves_the_store_as_it_was() -> None:
    store, alice = stored()
    coin = store.give(alice, "coin")

    async def half_a_death(uow: FakeUnitOfWork) -> None:
        await uow.health.set_health(alice.id, 1)
        await uow.items.move_all(InInventory(alice.id), OnFloor("crypt"))
        await uow.containers.create_container(kind=ContainerKind.CORPSE, name="x", capacity=1)
        raise RuntimeError("the power fails mid-way")

    with pytest.raises(RuntimeError, match="mid-way"):
        await in_unit_of_work(store, half_a_death)

    assert store.players[alice.id].health == 20
    assert store.items[coin.id].location == InInventory(alice.id)
    assert store.containers == {}
    assert (store.commits, store.rollbacks) == (0, 1)


async def test_a_failed_commit_discards_the_writes_and_raises() -> None:
    store, alice = stored()
    store.failing.add("commit")

    with pytest.raises(DatabaseUnavailable):
        async with FakeUnitOfWork(store) as uow:
            await uow.health.set_health(alice.id, 1)

    assert store.players[alice.id].health == 20
    assert (store.commits, store.rollbacks) == (0, 1)


async def test_after_commit_callbacks_run_only_after_a_successful_commit() -> None:
    store, alice = stored()
    seen: list[tuple[str, int]] = []

    def recorder(label: str) -> AfterCommit:
        async def record() -> None:
            seen.append((label, store.players[alice.id].health))

        return record

    async with FakeUnitOfWork(store) as uow:
        await uow.health.set_health(alice.id, 7)
        uow.after_commit(recorder("committed"))
        assert seen == []

    async def raises(uow: FakeUnitOfWork) -> None:
        uow.after_commit(recorder("raised"))
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await in_unit_of_work(store, raises)
    store.failing.add("commit")
    with pytest.raises(DatabaseUnavailable):
        async with FakeUnitOfWork(store) as uow:
            uow.after_commit(recorder("commit failed"))

    assert seen == [("committed", 7)]  # it saw the committed row, and only it ran


async def test_a_failing_callback_keeps_the_commit_and_the_other_callbacks() -> None:
    store, alice = stored()
    ran: list[str] = []

    async def broken() -> None:
        raise ValueError("a subscriber bug")

    async def after() -> None:
        ran.append("after")

    async with FakeUnitOfWork(store) as uow:
        await uow.health.set_health(alice.id, 9)
        uow.after_commit(broken)
        uow.after_commit(after)

    assert store.players[alice.id].health == 9
    assert ran == ["after"]
    assert [str(e) for e in store.failed_callbacks] == ["a subscriber bug"]


async def test_two_units_of_work_on_different_rows_both_keep_their_writes() -> None:
    store, alice = stored()
    bob = player_named("Bob")
    store.add_player(bob)

    async with FakeUnitOfWork(store) as first, FakeUnitOfWork(store) as second:
        await first.health.set_health(alice.id, 3)
        await second.health.set_health(bob.id, 4)

    assert store.players[alice.id].health == 3
    assert store.players[bob.id].health == 4


async def test_a_unit_of_work_cannot_be_entered_twice() -> None:
    store, _ = stored()
    uow = FakeUnitOfWork(store)
    async with uow:
        with pytest.raises(RuntimeError, match="twice"):
            await uow.__aenter__()
