"""BuildGrantRepository on a real database: one grant per account and zone, even when two
admins grant it at once; revoking removes it once; the listing names holder and granter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from kadath.domain.account import Account
from kadath.persistence.layer import AsyncPersistenceLayer

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_a_zone_is_granted_once_even_by_two_admins_at_once(
    persistence: AsyncPersistenceLayer, account: Account
) -> None:
    async def grant() -> bool:
        async with persistence.unit_of_work() as uow:
            return await uow.grants.add(account.id, "arkham", by=account.id, now=NOW) is not None

    assert sorted(await asyncio.gather(grant(), grant())) == [False, True]
    async with persistence.reading() as uow:
        listed = await uow.grants.listing(account.id)
        everyone = await uow.grants.all()
    assert [(g.username, g.granted_by, g.grant.zone_id) for g in listed] == [
        (account.username, account.username, "arkham")
    ]
    assert listed[0].grant.granted_at == NOW
    assert [g.zone_id for g in everyone if g.account_id == account.id] == ["arkham"]

    async with persistence.unit_of_work() as uow:
        assert await uow.grants.remove(account.id, "arkham")
        assert not await uow.grants.remove(account.id, "arkham")
    async with persistence.reading() as uow:
        assert await uow.grants.listing(account.id) == []
