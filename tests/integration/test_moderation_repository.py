"""ModerationRepository on a real database: sanctions in force, the report queue, the audit log."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kadath.domain.account import Account
from kadath.domain.errors import NotFound
from kadath.domain.moderation import AuditAction, AuditFilter, SanctionKind
from kadath.persistence.layer import AsyncPersistenceLayer

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_a_new_sanction_lifts_the_one_before_and_ends_on_time(
    persistence: AsyncPersistenceLayer, account: Account
) -> None:
    async with persistence.unit_of_work() as uow:
        for minutes in (10, 60):
            await uow.moderation.add_sanction(
                account.id,
                SanctionKind.MUTE,
                "shouting",
                by=None,
                now=NOW,
                ends_at=NOW + timedelta(minutes=minutes),
            )
        await uow.moderation.add_sanction(
            account.id, SanctionKind.BAN, "spam", by=None, now=NOW, ends_at=None
        )

    async with persistence.reading() as uow:
        now = await uow.moderation.in_force(NOW, account_id=account.id)
        later = await uow.moderation.in_force(NOW + timedelta(minutes=61))

    assert sorted((s.kind.value, s.ends_at) for s in now) == [
        ("ban", None),
        ("mute", NOW + timedelta(minutes=60)),
    ]
    assert [s.kind for s in later if s.account_id == account.id] == [SanctionKind.BAN]

    async with persistence.unit_of_work() as uow:
        assert await uow.moderation.lift(account.id, SanctionKind.BAN, NOW) == 1
        assert await uow.moderation.lift(account.id, SanctionKind.BAN, NOW) == 0


async def test_two_moderators_closing_one_report_close_it_once(
    persistence: AsyncPersistenceLayer, account: Account
) -> None:
    async with persistence.unit_of_work() as uow:
        report = await uow.moderation.add_report(
            (account.id, "Alice"), (account.id, "Bob"), "rude", NOW
        )

    async def close(by: str) -> str:
        async with persistence.unit_of_work() as uow:
            return (await uow.moderation.close_report(report.id, by, NOW)).closed_by or ""

    results = await asyncio.gather(close("Mod"), close("Other"), return_exceptions=True)

    assert sum(isinstance(r, NotFound) for r in results) == 1
    async with persistence.reading() as uow:
        assert report.id not in [r.id for r in await uow.moderation.open_reports()]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (AuditFilter(), ["ban", "mute", "kick"]),
        (AuditFilter(actor="KEEPER"), ["ban", "kick"]),
        (AuditFilter(target="bob", action=AuditAction.MUTE), ["mute"]),
        (AuditFilter(since=NOW + timedelta(minutes=1)), ["ban", "mute"]),
        (AuditFilter(limit=1), ["ban"]),
    ],
)
async def test_the_audit_log_filters_and_lists_newest_first(
    persistence: AsyncPersistenceLayer, where: AuditFilter, expected: list[str]
) -> None:
    entries = [
        (AuditAction.KICK, "Keeper", "Bob", 0),
        (AuditAction.MUTE, "Mod", "Bob", 1),
        (AuditAction.BAN, "Keeper", "carol", 2),
    ]
    async with persistence.unit_of_work() as uow:
        for action, actor, target, minutes in entries:
            at = NOW + timedelta(minutes=minutes)
            await uow.moderation.audit(action, (None, actor), (None, target), "", at)

    async with persistence.reading() as uow:
        found = await uow.moderation.audit_log(where)

    assert [e.action.value for e in found] == expected
