"""The blocking facade for scripts: same calls as the async layer, run on its own loop thread."""

from __future__ import annotations

import inspect
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kadath.domain.account import Account
from kadath.domain.errors import InvalidAmount, PlayerNotFound
from kadath.domain.item import InInventory, OnFloor
from kadath.domain.player import Player
from kadath.domain.stats import Stats
from kadath.domain.world import World
from kadath.persistence import sync
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.sync import SyncPersistenceLayer, close_persistence, get_persistence
from kadath.settings import Settings

NOT_MIRRORED = {"open", "close", "seed_world", "ping", "unit_of_work", "pool_status"}


@pytest.fixture
def layer(tmp_path: Path, small_world: World) -> Iterator[SyncPersistenceLayer]:
    with SyncPersistenceLayer.open(
        f"sqlite+aiosqlite:///{tmp_path}/sync.db", small_world
    ) as opened:
        yield opened


def create_account(layer: SyncPersistenceLayer) -> Account:
    async def work(persistence: AsyncPersistenceLayer) -> Account:
        async with persistence.unit_of_work() as uow:
            return await uow.accounts.create_account(f"user{uuid.uuid4().hex[:8]}", "x")

    return layer.run(work)


def new_player(account: Account, world: World, name: str = "Randolph") -> Player:
    return Player(
        id=uuid.uuid4(),
        account_id=account.id,
        name=name,
        room_id=world.start_room_id,
        respawn_room_id=world.start_room_id,
        stats=Stats(12, 12, 12, 12, 12, 12),
        health=100,
        max_health=100,
        profession_id=1,
    )


def test_every_one_call_method_of_the_async_layer_has_a_blocking_twin() -> None:
    async_api = {
        name
        for name, member in inspect.getmembers(AsyncPersistenceLayer, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in NOT_MIRRORED
    }
    assert len(async_api) == 26
    for name in async_api:
        method = getattr(SyncPersistenceLayer, name)
        assert not inspect.iscoroutinefunction(method), name
        assert method.__name__ == name


def test_opening_migrates_and_serves_the_world(layer: SyncPersistenceLayer) -> None:
    assert [room.id for room in layer.list_rooms("town")] == ["town.square", "town.street"]
    assert layer.get_all_professions()
    coins = [i for i in layer.items_at(OnFloor("town.square")) if i.prototype_id == "coin"]
    assert len(coins) == 2


def test_a_saved_player_reads_back_by_id_and_by_name(
    layer: SyncPersistenceLayer, small_world: World
) -> None:
    account = create_account(layer)
    player = new_player(account, small_world)

    layer.save_player(player)

    assert layer.get_player_by_id(player.id).name == "Randolph"
    assert layer.get_player_by_name("randolph").id == player.id
    assert [p.id for p in layer.get_players_by_user(account.id)] == [player.id]


def test_damage_then_heal_round_trips_through_the_database(
    layer: SyncPersistenceLayer, small_world: World
) -> None:
    player = new_player(create_account(layer), small_world)
    layer.save_player(player)

    assert layer.damage_player(player, 30, "test") == 70
    assert layer.heal_player(player, 500) == 100
    assert layer.damage_player(player, 1000, "test") == 0
    assert layer.get_player_by_id(player.id).health == 0


def test_an_item_moves_to_an_inventory_and_back(
    layer: SyncPersistenceLayer, small_world: World
) -> None:
    player = new_player(create_account(layer), small_world)
    layer.save_player(player)
    lantern = layer.create_item("lantern", OnFloor("town.street"))

    carried = layer.transfer_item(
        lantern.id, OnFloor("town.street"), InInventory(player.id), actor_id=player.id
    )
    dropped = layer.transfer_item(lantern.id, InInventory(player.id), OnFloor("town.street"))

    assert carried.location == InInventory(player.id)
    assert dropped.location == OnFloor("town.street")


def test_errors_are_raised_in_the_calling_thread(
    layer: SyncPersistenceLayer, small_world: World
) -> None:
    with pytest.raises(PlayerNotFound):
        layer.get_player_by_id(uuid.uuid4())
    player = new_player(create_account(layer), small_world)
    layer.save_player(player)
    with pytest.raises(InvalidAmount):
        layer.damage_player(player, -5, "test")
    assert layer.get_player_by_id(player.id).health == 100


def test_threads_may_share_one_layer(layer: SyncPersistenceLayer, small_world: World) -> None:
    player = new_player(create_account(layer), small_world)
    player.health = player.max_health = 1000
    layer.save_player(player)

    threads = [
        threading.Thread(target=lambda: [layer.damage_player(player, 1, "t") for _ in range(10)])
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert layer.get_player_by_id(player.id).health == 950


async def test_calling_it_from_a_running_event_loop_is_refused(
    layer: SyncPersistenceLayer, small_world: World
) -> None:
    with pytest.raises(RuntimeError, match="use AsyncPersistenceLayer inside the server"):
        layer.get_player_by_id(uuid.uuid4())
    with pytest.raises(RuntimeError, match="use AsyncPersistenceLayer inside the server"):
        SyncPersistenceLayer.open("sqlite+aiosqlite:///:memory:", small_world)
    with pytest.raises(RuntimeError, match="use AsyncPersistenceLayer inside the server"):
        get_persistence()


def test_close_stops_the_loop_thread_and_refuses_further_calls(
    tmp_path: Path, small_world: World
) -> None:
    layer = SyncPersistenceLayer.open(f"sqlite+aiosqlite:///{tmp_path}/c.db", small_world)
    thread = layer.thread
    assert thread.is_alive()

    layer.close()
    layer.close()

    assert not thread.is_alive()
    assert thread not in threading.enumerate()
    with pytest.raises(RuntimeError, match="closed"):
        layer.list_rooms()


def test_a_failed_open_leaves_no_thread_behind(small_world: World) -> None:
    before = set(threading.enumerate())
    with pytest.raises(ValueError, match="unsupported database URL"):
        SyncPersistenceLayer.open("mysql+aiomysql://nobody@localhost/x", small_world)
    assert set(threading.enumerate()) <= before


def test_get_persistence_opens_one_shared_layer_from_settings(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/shared.db", world_dir=None)
    try:
        first = get_persistence(settings)
        assert get_persistence() is first
        assert first.get_room_by_id(first.world.start_room_id).id == first.world.start_room_id
    finally:
        close_persistence()
    assert first.closed
    assert sync._cached is None
