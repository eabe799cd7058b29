"""PlayerRepository against a real database: lookups, saves, batch saves, deletes."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kadath.domain.account import Account, Role
from kadath.domain.errors import (
    DuplicateName,
    InvalidAmount,
    InvalidInput,
    InvalidName,
    NotFound,
    PlayerNotFound,
)
from kadath.domain.item import InInventory, OnFloor
from kadath.domain.stats import Stats
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ExplorationRow, ItemRow


async def test_a_saved_player_reads_back_with_every_field(
    persistence: AsyncPersistenceLayer, account: Account, make_player: Any
) -> None:
    player = make_player(
        account,
        name="Carter",
        room_id="town.street",
        respawn_room_id="harbour.dock",
        stats=Stats(10, 11, 13, 14, 15, 16),
        health=40,
        max_health=55,
        profession_id=3,
        lucidity=77,
        experience=350,
        level=3,
        extra={"title": "the Dreamer", "flags": [1, 2]},
    )
    await persistence.save_player(player)

    loaded = await persistence.get_player_by_id(player.id)

    assert loaded.name == "Carter"
    assert loaded.account_id == account.id
    assert (loaded.room_id, loaded.respawn_room_id) == ("town.street", "harbour.dock")
    assert loaded.stats == Stats(10, 11, 13, 14, 15, 16)
    assert (loaded.health, loaded.max_health, loaded.lucidity) == (40, 55, 77)
    assert (loaded.experience, loaded.level, loaded.profession_id) == (350, 3, 3)
    assert loaded.role is Role.PLAYER  # the account's
    assert loaded.extra == {"title": "the Dreamer", "flags": [1, 2]}
    assert loaded.created_at is not None
    assert loaded.created_at.tzinfo is not None


async def test_a_loaded_character_takes_its_accounts_role(
    persistence: AsyncPersistenceLayer, account: Account, make_player: Any
) -> None:
    player = make_player(account, name="Warden")
    await persistence.save_player(player)
    async with persistence.unit_of_work() as uow:
        await uow.accounts.set_role(account.id, Role.MODERATOR)

    loaded = await persistence.get_player_by_id(player.id)

    assert loaded.role is Role.MODERATOR
    assert not loaded.is_admin


async def test_get_player_by_id_refuses_unknown_and_malformed_ids(
    persistence: AsyncPersistenceLayer,
) -> None:
    with pytest.raises(PlayerNotFound):
        await persistence.get_player_by_id(uuid.uuid4())
    with pytest.raises(PlayerNotFound):
        await persistence.get_player_by_id("not-a-uuid")  # type: ignore[arg-type]


async def test_get_player_by_id_accepts_the_id_as_text(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player()
    loaded = await persistence.get_player_by_id(str(player.id))  # type: ignore[arg-type]
    assert loaded.id == player.id


async def test_get_player_by_name_ignores_case(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player(name="Randolph")
    for spelling in ("Randolph", "randolph", "RANDOLPH", "rAnDoLpH"):
        assert (await persistence.get_player_by_name(spelling)).id == player.id


@pytest.mark.parametrize("name", ["Nobody", "", 42, None])
async def test_get_player_by_name_refuses_unknown_names(
    persistence: AsyncPersistenceLayer, save_player: Any, name: Any
) -> None:
    await save_player(name="Somebody")
    with pytest.raises(PlayerNotFound):
        await persistence.get_player_by_name(name)


async def test_get_players_by_user_returns_only_that_accounts_players(
    persistence: AsyncPersistenceLayer, account: Account, make_player: Any
) -> None:
    async with persistence.unit_of_work() as uow:
        other = await uow.accounts.create_account("Someoneelse", "x")
    mine = [make_player(account, name=n) for n in ("Alpha", "Bravo")]
    theirs = make_player(other, name="Charlie")
    await persistence.save_players([*mine, theirs])

    found = await persistence.get_players_by_user(account.id)

    assert {p.id for p in found} == {p.id for p in mine}
    assert [p.id for p in await persistence.get_players_by_user(other.id)] == [theirs.id]
    assert await persistence.get_players_by_user(uuid.uuid4()) == []


async def test_list_players_pages_in_name_order(
    persistence: AsyncPersistenceLayer, account: Account, make_player: Any
) -> None:
    names = ["delta", "Alpha", "charlie", "Bravo", "Echo"]
    await persistence.save_players([make_player(account, name=n) for n in names])

    first = await persistence.list_players(limit=2)
    rest = await persistence.list_players(limit=10, offset=2)

    assert [p.name for p in first] == ["Alpha", "Bravo"]
    assert [p.name for p in rest] == ["charlie", "delta", "Echo"]
    assert await persistence.list_players(limit=10, offset=5) == []


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (1001, 0), (10, -1)])
async def test_list_players_refuses_bad_paging(
    persistence: AsyncPersistenceLayer, limit: int, offset: int
) -> None:
    with pytest.raises(InvalidInput):
        await persistence.list_players(limit=limit, offset=offset)


async def test_get_players_in_room_lists_only_that_room(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    here = [await save_player(name=n, room_id="harbour.dock") for n in ("Zed", "Amy")]
    await save_player(name="Elsewhere", room_id="town.square")

    found = await persistence.get_players_in_room("harbour.dock")

    assert [p.name for p in found] == ["Amy", "Zed"]
    assert {p.id for p in found} == {p.id for p in here}
    assert await persistence.get_players_in_room("no.such.room") == []


async def test_get_players_batch_returns_the_existing_ones(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    a, b = await save_player(), await save_player()
    await save_player()

    found = await persistence.get_players_batch([a.id, uuid.uuid4(), b.id])

    assert {p.id for p in found} == {a.id, b.id}
    assert await persistence.get_players_batch([]) == []


async def test_save_player_updates_an_existing_player_in_place(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player(name="Kuranes")
    loaded = await persistence.get_player_by_id(player.id)
    changed = dataclasses.replace(
        loaded,
        name="KURANES",
        room_id="harbour.dock",
        health=12,
        lucidity=3,
        extra={"k": "v"},
        account_id=uuid.uuid4(),  # never overwritten
        created_at=datetime(2000, 1, 1, tzinfo=UTC),  # never overwritten
    )

    await persistence.save_player(changed)

    row = await stored.player(player.id)
    assert await stored.players() == 1
    assert (row.name, row.name_key, row.room_id) == ("KURANES", "kuranes", "harbour.dock")
    assert (row.health, row.lucidity, row.extra) == (12, 3, {"k": "v"})
    assert row.account_id == player.account_id
    assert row.created_at.replace(tzinfo=UTC) == loaded.created_at


@pytest.mark.parametrize("clash", ["Pickman", "pickman", "PICKMAN", "pIcKmAn"])
async def test_a_name_taken_in_any_case_is_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any, clash: str
) -> None:
    first = await save_player(name="Pickman")
    with pytest.raises(DuplicateName):
        await save_player(name=clash)
    assert await stored.players() == 1
    assert (await stored.player(first.id)).name == "Pickman"


async def test_renaming_onto_another_players_name_is_refused_and_the_row_kept(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    await save_player(name="Nyarlathotep")
    other = await save_player(name="Azathoth")
    with pytest.raises(DuplicateName):
        await persistence.save_player(dataclasses.replace(other, name="nyarlathotep", health=1))
    row = await stored.player(other.id)
    assert (row.name, row.health) == ("Azathoth", 100)


@pytest.mark.parametrize(
    "name",
    ["Ab", "A" * 21, "Carter2", "Car ter", "-Carter", "Carter'", "Ĉarter", "", 123, None],
)
async def test_invalid_names_are_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account, make_player: Any, name: Any
) -> None:
    player = dataclasses.replace(make_player(account), name=name)  # make_player fills in ""
    with pytest.raises(InvalidName):
        await persistence.save_player(player)
    assert await stored.players() == 0


async def test_names_with_inner_apostrophes_and_hyphens_are_allowed(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    await save_player(name="O'Brien-Smith")
    assert (await persistence.get_player_by_name("o'brien-smith")).name == "O'Brien-Smith"
    await save_player(name="A" * 20)
    assert await stored.players() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"health": 101, "max_health": 100},
        {"health": -1},
        {"max_health": 0, "health": 0},
        {"lucidity": 101},
        {"lucidity": -1},
        {"experience": -5},
        {"level": 0},
    ],
)
async def test_out_of_range_values_are_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer,
    stored: Any,
    account: Account,
    make_player: Any,
    fields: dict[str, int],
) -> None:
    with pytest.raises(InvalidAmount):
        await persistence.save_player(make_player(account, **fields))
    assert await stored.players() == 0


async def test_save_players_writes_a_thousand_in_one_call(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account, make_player: Any
) -> None:
    players = [make_player(account) for _ in range(1000)]
    assert await persistence.save_players(players) == 1000
    assert await stored.players() == 1000
    assert await persistence.save_players([]) == 0


async def test_save_players_of_a_thousand_writes_none_when_two_names_clash_in_case(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account, make_player: Any
) -> None:
    players = [make_player(account) for _ in range(1000)]
    players[700] = make_player(account, name=players[3].name.upper())

    with pytest.raises(DuplicateName):
        await persistence.save_players(players)

    assert await stored.players() == 0


async def test_save_players_of_a_thousand_writes_none_when_one_profession_is_unknown(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account, make_player: Any
) -> None:
    players = [make_player(account) for _ in range(1000)]
    players[999] = make_player(account, profession_id=9999)

    with pytest.raises(NotFound):
        await persistence.save_players(players)

    assert await stored.players() == 0


async def test_save_players_of_a_thousand_writes_none_when_one_fails_validation(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account, make_player: Any
) -> None:
    players = [make_player(account) for _ in range(1000)]
    players[500] = make_player(account, health=101, max_health=100)

    with pytest.raises(InvalidAmount):
        await persistence.save_players(players)

    assert await stored.players() == 0


async def test_save_players_refused_leaves_earlier_saved_players_unchanged(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account, make_player: Any
) -> None:
    existing = [make_player(account) for _ in range(10)]
    await persistence.save_players(existing)
    hurt = [dataclasses.replace(p, health=1) for p in existing]
    hurt.append(make_player(account, name=existing[0].name.lower()))

    with pytest.raises(DuplicateName):
        await persistence.save_players(hurt)

    assert await stored.players() == 10
    for p in existing:
        assert (await stored.player(p.id)).health == 100


async def test_save_players_accepts_a_batch_of_loaded_and_new_players(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account, make_player: Any
) -> None:
    loaded = make_player(account)
    await persistence.save_player(loaded)
    loaded = await persistence.get_player_by_id(loaded.id)
    fresh = make_player(account)

    await persistence.save_players([dataclasses.replace(loaded, health=5), fresh])

    assert await stored.players() == 2
    assert (await stored.player(loaded.id)).health == 5


async def test_delete_player_removes_the_player_and_leaves_what_they_carried_on_the_floor(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    doomed, bystander = await save_player(room_id="harbour.dock"), await save_player()
    left = await persistence.create_item("coin", InInventory(doomed.id))
    kept = await persistence.create_item("coin", InInventory(bystander.id))
    async with persistence.unit_of_work() as uow:
        await uow.exploration.record_visit(doomed.id, "town.square")

    await persistence.delete_player(doomed.id)

    assert await stored.player(doomed.id) is None
    assert await stored.items(ItemRow.owner_player_id == doomed.id) == 0
    assert await stored.count(ExplorationRow, ExplorationRow.player_id == doomed.id) == 0
    assert (await persistence.get_item(kept.id)).location == InInventory(bystander.id)
    assert (await persistence.get_item(left.id)).location == OnFloor("harbour.dock")
    with pytest.raises(PlayerNotFound):
        await persistence.get_player_by_id(doomed.id)


async def test_delete_player_refuses_an_unknown_id_and_deletes_nothing(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    await save_player()
    with pytest.raises(PlayerNotFound):
        await persistence.delete_player(uuid.uuid4())
    assert await stored.players() == 1


async def test_update_player_last_active_stores_the_time_given(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player()
    when = datetime(2030, 5, 17, 12, 30, tzinfo=UTC)

    await persistence.update_player_last_active(player.id, when)
    assert (await persistence.get_player_by_id(player.id)).last_active_at == when

    before = datetime.now(UTC)
    await persistence.update_player_last_active(player.id)
    stamped = (await persistence.get_player_by_id(player.id)).last_active_at
    assert stamped is not None
    assert before - timedelta(seconds=5) <= stamped


async def test_update_player_last_active_refuses_an_unknown_player(
    persistence: AsyncPersistenceLayer,
) -> None:
    with pytest.raises(PlayerNotFound):
        await persistence.update_player_last_active(uuid.uuid4())


async def test_move_player_stores_the_room_and_counts_players(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    player = await save_player()
    await save_player()
    async with persistence.unit_of_work() as uow:
        await uow.players.move_player(player.id, "harbour.dock")
        assert await uow.players.count_players() == 2
    assert (await stored.player(player.id)).room_id == "harbour.dock"
    with pytest.raises(PlayerNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.players.move_player(uuid.uuid4(), "harbour.dock")
