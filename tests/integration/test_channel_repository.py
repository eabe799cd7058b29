"""ChannelRepository and IgnoreRepository against a real database: settings upserted, history
trimmed per channel, ignores listed by name and gone with either character."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kadath.domain.channel import ChannelMessage, Membership
from kadath.persistence.layer import AsyncPersistenceLayer

WHEN = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def said(channel: str, n: int) -> ChannelMessage:
    return ChannelMessage(channel, None, "Wilmarth", f"{channel} {n}", WHEN + timedelta(seconds=n))


async def test_a_setting_is_stored_once_and_changed_in_place(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    player = await save_player(name="Armitage")
    async with persistence.unit_of_work() as uow:
        await uow.channels.save_membership(player.id, Membership("ooc", joined=False))
        await uow.channels.save_membership(player.id, Membership("newbie", True, muted=True))
    async with persistence.unit_of_work() as uow:
        await uow.channels.save_membership(player.id, Membership("ooc", joined=True, muted=True))

    async with persistence.reading() as uow:
        stored = await uow.channels.memberships(player.id)

    assert sorted(stored, key=lambda m: m.channel) == [
        Membership("newbie", True, True),
        Membership("ooc", True, True),
    ]


async def test_trimming_keeps_the_newest_of_one_channel_and_leaves_the_others(
    persistence: AsyncPersistenceLayer,
) -> None:
    async with persistence.unit_of_work() as uow:
        await uow.channels.append_messages([said("ooc", n) for n in range(130)])
        await uow.channels.append_messages([said("newbie", n) for n in range(5)])
        assert await uow.channels.trim("ooc", 100) == 30
        assert await uow.channels.trim("newbie", 100) == 0

    async with persistence.reading() as uow:
        ooc = await uow.channels.recent_messages("ooc", 1000)
        newbie = await uow.channels.recent_messages("newbie", 3)

    assert [m.text for m in ooc] == [f"ooc {n}" for n in range(30, 130)]
    assert ooc[0] == said("ooc", 30)
    assert [m.text for m in newbie] == ["newbie 2", "newbie 3", "newbie 4"]


async def test_ignores_are_listed_by_name_and_go_with_either_character(
    persistence: AsyncPersistenceLayer, save_player: Any
) -> None:
    dave, alice, eve = [await save_player(name=n) for n in ("Dave", "Alice", "Eve")]
    async with persistence.unit_of_work() as uow:
        assert await uow.ignores.ignore(dave.id, alice.id)
        assert not await uow.ignores.ignore(dave.id, alice.id)
        assert await uow.ignores.ignore(dave.id, eve.id)
        assert await uow.ignores.ignore(eve.id, dave.id)
    async with persistence.unit_of_work() as uow:
        assert await uow.ignores.unignore(dave.id, eve.id)
        assert not await uow.ignores.unignore(dave.id, eve.id)

    async with persistence.reading() as uow:
        assert await uow.ignores.ignored(dave.id) == {alice.id: "Alice"}

    await persistence.delete_player(alice.id)
    await persistence.delete_player(dave.id)
    async with persistence.reading() as uow:
        assert await uow.ignores.ignored(dave.id) == {}
        assert await uow.ignores.ignored(eve.id) == {}
