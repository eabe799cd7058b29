"""The unit of work: one transaction across repositories, and callbacks after the commit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kadath.domain.errors import ItemMoved
from kadath.domain.item import InInventory, OnFloor
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ExplorationRow, ItemRow

DOCK = OnFloor("harbour.dock")


class Boom(Exception):
    pass


async def test_a_clean_exit_commits_every_repositorys_writes(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    coin = await persistence.create_item("coin", DOCK)

    async with persistence.unit_of_work() as uow:
        await uow.containers.transfer_item(coin.id, DOCK, InInventory(player.id))
        await uow.health.damage_player(player, 40, "trap")
        await uow.experience.update_player_stat_field(player.id, "lucidity", -10, "gaze")
        await uow.exploration.record_visit(player.id, "harbour.dock")

    row = await stored.player(player.id)
    assert (row.health, row.lucidity) == (60, 90)
    assert await stored.place(coin.id) == InInventory(player.id)
    assert await stored.count(ExplorationRow) == 1


async def test_an_exception_after_several_writes_rolls_all_of_them_back(
    persistence: AsyncPersistenceLayer, stored: Any, account: Any, make_player: Any
) -> None:
    player = make_player(account, health=100)
    await persistence.save_player(player)
    coins = [(await persistence.create_item("coin", DOCK)).id for _ in range(3)]
    newcomer = make_player(account)

    async def work() -> None:
        async with persistence.unit_of_work() as uow:
            for coin in coins:
                await uow.containers.transfer_item(coin, DOCK, InInventory(player.id))
            await uow.health.damage_player(player, 30, "trap")
            await uow.experience.gain_experience(player, 500, "quest")
            await uow.players.save_player(newcomer)
            await uow.items.create_item("lantern", DOCK)
            await uow.exploration.record_visit(player.id, "harbour.dock")
            raise Boom

    with pytest.raises(Boom):
        await work()

    row = await stored.player(player.id)
    assert (row.health, row.experience, row.level) == (100, 0, 1)
    assert await stored.places(coins) == dict.fromkeys(coins, DOCK)
    assert await stored.player(newcomer.id) is None
    assert (
        await stored.items(ItemRow.prototype_id == "lantern", ItemRow.room_id == "harbour.dock")
        == 0
    )
    assert await stored.count(ExplorationRow) == 0


async def test_a_refusal_half_way_through_rolls_back_the_earlier_steps(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    alice, bob = await save_player(health=100), await save_player(health=100)
    coin = await persistence.create_item("coin", DOCK)
    gone = await persistence.create_item("coin", InInventory(bob.id))

    async def work() -> None:
        async with persistence.unit_of_work() as uow:
            await uow.containers.transfer_item(coin.id, DOCK, InInventory(alice.id))
            await uow.health.damage_player(alice, 25, "trap")
            await uow.containers.transfer_item(gone.id, DOCK, InInventory(alice.id))

    with pytest.raises(ItemMoved):
        await work()

    assert await stored.health(alice.id) == 100
    assert await stored.place(coin.id) == DOCK
    assert await stored.place(gone.id) == InInventory(bob.id)


async def test_after_commit_callbacks_run_in_order_once_the_data_is_committed(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    seen: list[tuple[str, int]] = []

    async def first() -> None:
        # Read on another connection: only committed data is visible there.
        seen.append(("first", await stored.health(player.id)))

    async def second() -> None:
        seen.append(("second", await stored.health(player.id)))

    async with persistence.unit_of_work() as uow:
        await uow.health.damage_player(player, 30, "trap")
        uow.after_commit(first)
        uow.after_commit(second)
        assert seen == []

    assert seen == [("first", 70), ("second", 70)]


async def test_after_commit_callbacks_do_not_run_when_the_work_is_rolled_back(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    ran: list[str] = []

    async def callback() -> None:
        ran.append("ran")

    async def work() -> None:
        async with persistence.unit_of_work() as uow:
            await uow.health.damage_player(player, 30, "trap")
            uow.after_commit(callback)
            raise Boom

    with pytest.raises(Boom):
        await work()

    assert ran == []
    assert await stored.health(player.id) == 100


async def test_a_failing_callback_neither_raises_nor_stops_the_others_nor_undoes_the_commit(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    ran: list[str] = []

    async def broken() -> None:
        raise RuntimeError("subscriber bug")

    async def after() -> None:
        ran.append("after")

    async with persistence.unit_of_work() as uow:
        await uow.health.damage_player(player, 30, "trap")
        uow.after_commit(broken)
        uow.after_commit(after)

    assert ran == ["after"]
    assert await stored.health(player.id) == 70


async def test_callbacks_of_a_rolled_back_block_do_not_run_when_the_uow_is_reused(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player(health=100)
    ran: list[str] = []

    async def stale() -> None:
        ran.append("stale")

    uow = persistence.unit_of_work()

    async def failed_block() -> None:
        async with uow:
            uow.after_commit(stale)
            raise Boom

    with pytest.raises(Boom):
        await failed_block()
    async with uow:
        await uow.health.damage_player(player, 1, "trap")

    assert ran == []


async def test_a_unit_of_work_can_be_reused_for_a_second_transaction(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(health=100)
    uow = persistence.unit_of_work()
    async with uow:
        await uow.health.damage_player(player, 10, "trap")
    async with uow:
        await uow.health.damage_player(player, 10, "trap")
    assert await stored.health(player.id) == 80


async def test_a_unit_of_work_cannot_be_entered_twice_at_once(
    persistence: AsyncPersistenceLayer,
) -> None:
    uow = persistence.unit_of_work()
    async with uow:
        with pytest.raises(RuntimeError):
            await uow.__aenter__()


async def test_the_session_is_only_available_while_the_unit_of_work_is_open(
    persistence: AsyncPersistenceLayer,
) -> None:
    uow = persistence.unit_of_work()
    with pytest.raises(RuntimeError):
        _ = uow.session
    async with uow:
        assert uow.session is not None
    with pytest.raises(RuntimeError):
        _ = uow.session


async def test_each_unit_of_work_sees_the_others_committed_work(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player(health=100)
    async with persistence.unit_of_work() as uow:
        await uow.health.damage_player(player, 5, "trap")
    async with persistence.unit_of_work() as uow:
        assert (await uow.players.get_player_by_id(player.id)).health == 95
    async with persistence.unit_of_work() as uow:
        assert await uow.players.get_players_batch([uuid.uuid4()]) == []
