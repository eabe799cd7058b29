"""The hashing pool answers Busy at once past its bounds; registrations yield to logins."""

from __future__ import annotations

import asyncio

import pytest

from kadath.domain.errors import Busy
from kadath.services.auth import PasswordHasher


async def test_registrations_past_their_share_are_busy_while_logins_still_queue() -> None:
    hasher = PasswordHasher(threads=1, time_cost=2, memory_cost=16384, queue=4)
    try:
        stored = await hasher.hash("correct horse battery")
        running = [asyncio.ensure_future(hasher.hash("a password")) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await hasher.hash("one too many")
        assert await hasher.verify("correct horse battery", stored)  # a login still gets in
        await asyncio.gather(*running)
        assert await hasher.hash("room again")  # the slots were given back
    finally:
        hasher.close()


async def test_logins_past_the_queue_are_busy() -> None:
    hasher = PasswordHasher(threads=1, time_cost=2, memory_cost=16384, queue=2)
    try:
        stored = await hasher.hash("correct horse battery")
        waiting = [asyncio.ensure_future(hasher.verify("x" * 8, stored)) for _ in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await hasher.verify("correct horse battery", stored)
        assert not any(await asyncio.gather(*waiting))
    finally:
        hasher.close()
