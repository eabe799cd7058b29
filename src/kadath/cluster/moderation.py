"""Moderation across the processes of a cluster (``ModerationElsewhere``), over NATS core.

A moderator's or admin's change to an account is committed and applied by the process that
made it (its own book, its own characters of the account), then published as
``AccountNews`` on ``kadath.cluster.account``: ``{"from", "account_id", "recorded"
(a sanction: {"id", "kind", "reason", "created_at", "ends_at"}, or null), "lifted" (a kind,
or null), "role", "tell", "disconnect", "player_id", "granted", "revoked"}``. Every other
process applies it (``ModerationService.apply``, ``GrantService.apply``): records or lifts
the mute or freeze in its book (so it holds there too, and for a character that walks there
later), sets the role of the account's characters in play there, tells them, ends their
connections (a ban, a kick), or records a zone granted or revoked for building.

A report's notice for the moderators is published on ``kadath.cluster.staff`` (``{"from",
"text"}``); every other process shows it to its moderators in play. A kick of a character in
play on another process asks ``who`` (``ClusterDirectory``) whether it is.

At most once, as NATS core delivers: a process cut off from NATS at that moment misses the
news (a sanction still holds there after its next restart, which loads the book from the
database; a banned account's characters are refused at their next sign-in).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kadath.cluster.directory import ClusterDirectory
from kadath.cluster.leases import NATS_FAILURES, settled
from kadath.domain.account import Role
from kadath.domain.moderation import Sanction, SanctionKind
from kadath.services.build_grants import GrantService
from kadath.services.moderation import AccountNews, ModerationService
from kadath.services.reports import ReportService

log = structlog.get_logger(__name__)
ACCOUNT_SUBJECT = "kadath.cluster.account"
STAFF_SUBJECT = "kadath.cluster.staff"


class ClusterModeration:
    """Tells the other processes the moderation done here and applies theirs."""

    def __init__(
        self,
        nc: Client,
        node: str,
        moderation: ModerationService,
        reports: ReportService,
        grants: GrantService,
        directory: ClusterDirectory,
    ) -> None:
        self._nc, self._node = nc, node
        self._moderation, self._reports, self._grants = moderation, reports, grants
        self._directory = directory
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        self._subs = [
            await self._nc.subscribe(ACCOUNT_SUBJECT, cb=self._hear_news),
            await self._nc.subscribe(STAFF_SUBJECT, cb=self._hear_notice),
        ]
        await settled(self._nc)

    async def stop(self) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    # -- telling -------------------------------------------------------------------------------
    async def account_news(self, news: AccountNews) -> None:
        await self._publish(ACCOUNT_SUBJECT, _encode(news))

    async def staff_notice(self, text: str) -> None:
        await self._publish(STAFF_SUBJECT, {"text": text})

    async def in_play(self, player_id: uuid.UUID) -> bool:
        entries, _ = await self._directory.who()
        return any(entry.id == player_id for entry in entries)

    async def _publish(self, subject: str, body: dict[str, Any]) -> None:
        try:
            await self._nc.publish(subject, json.dumps({**body, "from": self._node}).encode())
        except NATS_FAILURES as exc:
            log.warning("cluster_moderation_publish_failed", subject=subject, error=repr(exc))

    # -- hearing -------------------------------------------------------------------------------
    async def _hear_news(self, msg: Msg) -> None:
        body = self._theirs(msg)
        if body is None:
            return
        try:
            news = _decode(body)
        except (ValueError, KeyError, TypeError):
            log.warning("cluster_account_news_unreadable")
            return
        self._moderation.apply(news)
        self._grants.apply(news)

    async def _hear_notice(self, msg: Msg) -> None:
        body = self._theirs(msg)
        if body is not None and isinstance(body.get("text"), str):
            self._reports.notify_staff(body["text"])

    def _theirs(self, msg: Msg) -> dict[str, Any] | None:
        """The body, unless it is unreadable or this process's own."""
        try:
            body = json.loads(msg.data)
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("from") == self._node:
            return None
        return body


def _encode(news: AccountNews) -> dict[str, Any]:
    sanction = news.recorded
    return {
        "account_id": str(news.account_id),
        "recorded": None
        if sanction is None
        else {
            "id": str(sanction.id),
            "kind": sanction.kind.value,
            "reason": sanction.reason,
            "created_at": sanction.created_at.isoformat(),
            "ends_at": None if sanction.ends_at is None else sanction.ends_at.isoformat(),
        },
        "lifted": None if news.lifted is None else news.lifted.value,
        "role": None if news.role is None else news.role.value,
        "tell": news.tell,
        "disconnect": news.disconnect,
        "player_id": None if news.player_id is None else str(news.player_id),
        "granted": news.granted,
        "revoked": news.revoked,
    }


def _decode(body: dict[str, Any]) -> AccountNews:
    """Raises ValueError, KeyError, TypeError."""
    account_id = uuid.UUID(str(body["account_id"]))
    recorded = body["recorded"]
    sanction = None
    if recorded is not None:
        ends_at = recorded["ends_at"]
        sanction = Sanction(
            uuid.UUID(str(recorded["id"])),
            account_id,
            SanctionKind(recorded["kind"]),
            str(recorded["reason"]),
            _aware(str(recorded["created_at"])),
            None if ends_at is None else _aware(str(ends_at)),
        )
    lifted, role, player_id = body["lifted"], body["role"], body["player_id"]
    tell, disconnect = body["tell"], body["disconnect"]
    granted, revoked = body.get("granted"), body.get("revoked")
    return AccountNews(
        account_id,
        recorded=sanction,
        lifted=None if lifted is None else SanctionKind(lifted),
        role=None if role is None else Role(role),
        tell=None if tell is None else str(tell),
        disconnect=None if disconnect is None else str(disconnect),
        player_id=None if player_id is None else uuid.UUID(str(player_id)),
        granted=None if granted is None else str(granted),
        revoked=None if revoked is None else str(revoked),
    )


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a time without its zone")
    return moment
