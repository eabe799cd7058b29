"""AccountRepository (accounts, invites) and ExplorationRepository (rooms visited)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from kadath.domain.account import Account, Role
from kadath.domain.errors import AccountNotFound, DuplicateName, InvalidName, NotFound
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ExplorationRow, InviteRow

WHEN = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


async def _create(persistence: AsyncPersistenceLayer, username: str, admin: bool = False) -> Any:
    async with persistence.unit_of_work() as uow:
        return await uow.accounts.create_account(
            username, "hash", role=Role.ADMIN if admin else Role.PLAYER
        )


async def test_an_account_reads_back_by_id_and_by_username_in_any_case(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    created = await _create(persistence, "Lovecraft", admin=True)

    async with persistence.unit_of_work() as uow:
        by_id = await uow.accounts.get_account(created.id)
        by_name = await uow.accounts.find_by_username("lOVECRAFT")
        missing = await uow.accounts.find_by_username("Derleth")
        counted = await uow.accounts.count_accounts()

    assert by_id == created
    assert by_name == created
    assert (by_id.username, by_id.password_hash, by_id.is_admin) == ("Lovecraft", "hash", True)
    assert missing is None
    assert counted == await stored.accounts() == 1


async def test_get_account_refuses_an_unknown_id(persistence: AsyncPersistenceLayer) -> None:
    with pytest.raises(AccountNotFound):
        async with persistence.unit_of_work() as uow:
            await uow.accounts.get_account(uuid.uuid4())


@pytest.mark.parametrize("clash", ["Howard", "howard", "HOWARD"])
async def test_a_username_taken_in_any_case_is_refused_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any, clash: str
) -> None:
    await _create(persistence, "Howard")
    with pytest.raises(DuplicateName):
        await _create(persistence, clash)
    assert await stored.accounts() == 1


async def test_a_refused_username_does_not_spoil_the_rest_of_the_unit_of_work(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    await _create(persistence, "Taken")
    async with persistence.unit_of_work() as uow:
        first = await uow.accounts.create_account("Before", "h")
        with pytest.raises(DuplicateName):
            await uow.accounts.create_account("TAKEN", "h")
        second = await uow.accounts.create_account("After", "h")

    async with persistence.unit_of_work() as uow:
        assert await uow.accounts.get_account(first.id) == first
        assert await uow.accounts.get_account(second.id) == second
    assert await stored.accounts() == 3


async def test_an_over_long_username_is_refused_as_invalid_and_nothing_written(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    with pytest.raises(InvalidName):
        await _create(persistence, "U" * 33)
    assert await stored.accounts() == 0


async def test_invites_are_created_listed_and_spent_once(
    persistence: AsyncPersistenceLayer, stored: Any, account: Account
) -> None:
    other = await _create(persistence, "Inviter")
    newcomer = await _create(persistence, "Newcomer")
    async with persistence.unit_of_work() as uow:
        await uow.accounts.create_invite("code-a", account.id)
        await uow.accounts.create_invite("code-b", other.id)

    async with persistence.unit_of_work() as uow:
        await uow.accounts.use_invite("code-a", newcomer.id, WHEN)

    async with persistence.unit_of_work() as uow:
        everyone = await uow.accounts.list_invites()
        mine = await uow.accounts.list_invites(account.id)
    assert {i.code for i in everyone} == {"code-a", "code-b"}
    assert [(i.code, i.used_by, i.used_at) for i in mine] == [("code-a", newcomer.id, WHEN)]
    assert await stored.count(InviteRow, InviteRow.used_by.is_(None)) == 1


async def test_a_spent_or_unknown_invite_is_refused_and_keeps_its_first_user(
    persistence: AsyncPersistenceLayer, account: Account
) -> None:
    first = await _create(persistence, "Firstcomer")
    late = await _create(persistence, "Latecomer")
    async with persistence.unit_of_work() as uow:
        await uow.accounts.create_invite("once", account.id)
        await uow.accounts.use_invite("once", first.id, WHEN)

    with pytest.raises(NotFound):
        async with persistence.unit_of_work() as uow:
            await uow.accounts.use_invite("once", late.id, datetime.now(UTC))
    with pytest.raises(NotFound):
        async with persistence.unit_of_work() as uow:
            await uow.accounts.use_invite("never-made", late.id, datetime.now(UTC))

    async with persistence.unit_of_work() as uow:
        (invite,) = await uow.accounts.list_invites()
    assert (invite.used_by, invite.used_at) == (first.id, WHEN)


async def test_two_accounts_racing_for_one_invite_only_one_gets_it(
    persistence: AsyncPersistenceLayer, account: Account
) -> None:
    racers = [await _create(persistence, f"Racer{chr(97 + i)}") for i in range(5)]
    async with persistence.unit_of_work() as uow:
        await uow.accounts.create_invite("contested", account.id)

    async def claim(racer: Any) -> bool:
        try:
            async with persistence.unit_of_work() as uow:
                await uow.accounts.use_invite("contested", racer.id, WHEN)
        except NotFound:
            return False
        return True

    results = await asyncio.gather(*(claim(r) for r in racers))

    assert results.count(True) == 1
    async with persistence.unit_of_work() as uow:
        (invite,) = await uow.accounts.list_invites()
    assert invite.used_by == racers[results.index(True)].id


async def test_record_visit_is_true_only_the_first_time(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    walker, other = await save_player(), await save_player()
    async with persistence.unit_of_work() as uow:
        assert await uow.exploration.record_visit(walker.id, "town.square") is True
        assert await uow.exploration.record_visit(walker.id, "town.street") is True
    async with persistence.unit_of_work() as uow:
        assert await uow.exploration.record_visit(walker.id, "town.square") is False
        assert await uow.exploration.record_visit(other.id, "town.square") is True

    async with persistence.unit_of_work() as uow:
        assert await uow.exploration.visited_rooms(walker.id) == {"town.square", "town.street"}
        assert await uow.exploration.visited_rooms(other.id) == {"town.square"}
        assert await uow.exploration.visited_rooms(uuid.uuid4()) == set()
    assert await stored.count(ExplorationRow) == 3


async def test_concurrent_first_visits_to_one_room_count_once(
    persistence: AsyncPersistenceLayer, stored: Any, save_player: Any
) -> None:
    walker = await save_player()

    async def visit() -> bool:
        async with persistence.unit_of_work() as uow:
            return await uow.exploration.record_visit(walker.id, "harbour.dock")

    results = await asyncio.gather(*(visit() for _ in range(10)))

    assert results.count(True) == 1
    assert await stored.count(ExplorationRow, ExplorationRow.player_id == walker.id) == 1


async def test_a_visit_by_an_unknown_player_is_refused_and_not_stored(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    with pytest.raises(NotFound):
        async with persistence.unit_of_work() as uow:
            await uow.exploration.record_visit(uuid.uuid4(), "town.square")
    assert await stored.count(ExplorationRow) == 0
