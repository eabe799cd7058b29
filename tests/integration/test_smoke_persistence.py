from __future__ import annotations

import asyncio

from kadath.domain.account import Account
from kadath.persistence.layer import AsyncPersistenceLayer


async def test_concurrent_damage_loses_no_update(
    persistence: AsyncPersistenceLayer, account: Account, make_player
) -> None:
    player = make_player(account, health=1000, max_health=1000)
    await persistence.save_player(player)
    await asyncio.gather(*(persistence.damage_player(player, 3, "test") for _ in range(100)))
    fresh = await persistence.get_player_by_id(player.id)
    assert fresh.health == 700
