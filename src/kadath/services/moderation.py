"""Moderators' use cases: kick, mute, freeze, ban and their undoing. Each validates, then
writes the sanction and its audit entry in one unit of work; the in-memory book, the
messages and any disconnection follow the commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kadath.domain.account import Account, Role
from kadath.domain.errors import AccountNotFound, InvalidInput, NotFound, PlayerNotFound
from kadath.domain.moderation import (
    MAX_REASON,
    AuditAction,
    Sanction,
    SanctionKind,
    check_may_sanction,
    clean_text,
    describe,
    parse_duration,
)
from kadath.domain.player import Player, name_key
from kadath.services import messenger as frames
from kadath.services.clock import Clock
from kadath.services.messenger import Messenger
from kadath.services.presence import Presence
from kadath.services.sanctions import SanctionBook
from kadath.services.unit_of_work import UnitOfWork


class Disconnector(Protocol):
    """Ends a character's connection at once and takes it out of play (the Hub)."""

    def disconnect(self, player_id: uuid.UUID, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a character in game (its name), or an account over the API (its username)."""

    account_id: uuid.UUID
    name: str
    role: Role

    @classmethod
    def of_player(cls, player: Player) -> Actor:
        return cls(player.account_id, player.name, player.role)

    @classmethod
    def of_account(cls, account: Account) -> Actor:
        return cls(account.id, account.username, account.role)

    @property
    def ref(self) -> tuple[uuid.UUID | None, str]:
        return self.account_id, self.name


@dataclass(frozen=True, slots=True)
class Target:
    account_id: uuid.UUID
    name: str
    role: Role

    @property
    def ref(self) -> tuple[uuid.UUID | None, str]:
        return self.account_id, self.name


class ModerationService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        presence: Presence,
        messenger: Messenger,
        book: SanctionBook,
        clock: Clock,
        disconnector: Disconnector,
    ) -> None:
        self._uow, self._presence, self._messenger = uow, presence, messenger
        self._book, self._clock, self._disconnector = book, clock, disconnector

    async def kick(self, actor: Actor, name: str, reason: str) -> str:
        """Raises PlayerNotFound, Forbidden, InvalidInput."""
        reason = clean_text(reason, MAX_REASON, "reason")
        player = self._online(name)
        if player is None:
            raise PlayerNotFound(f"Nobody called {name[:20]} is in the world.")
        target = Target(player.account_id, player.name, player.role)
        _check(actor, target)
        async with self._uow() as uow:
            await uow.moderation.audit(
                AuditAction.KICK, actor.ref, target.ref, reason, self._clock.now()
            )
        because = f": {reason}" if reason else "."
        self._disconnector.disconnect(player.id, f"You have been kicked by {actor.name}{because}")
        return f"{player.name} is kicked."

    async def mute(self, actor: Actor, name: str, duration: str, reason: str) -> str:
        """Raises PlayerNotFound, Forbidden, InvalidInput."""
        span = parse_duration(duration)
        reason = clean_text(reason, MAX_REASON, "reason")
        sanction, target = await self._sanction(actor, name, SanctionKind.MUTE, span, reason)
        self._tell(target, f"You have been muted {sanction.until(self._clock.now())}.")
        return f"{target.name} is muted for {describe(span or timedelta())}."

    async def freeze(self, actor: Actor, name: str, reason: str) -> str:
        """Raises PlayerNotFound, Forbidden, InvalidInput."""
        reason = clean_text(reason, MAX_REASON, "reason")
        _, target = await self._sanction(actor, name, SanctionKind.FREEZE, None, reason)
        self._tell(target, "You have been frozen: you can only look, ask for help or quit.")
        return f"{target.name} is frozen."

    async def ban(self, actor: Actor, name: str, duration: str, reason: str) -> str:
        """``name`` is an account's username (or one of its characters'). Raises
        AccountNotFound, Forbidden, InvalidInput."""
        span = parse_duration(duration, forever=True)
        reason = clean_text(reason, MAX_REASON, "reason")
        if not reason:
            raise InvalidInput("Give a reason: the account is shown it when it tries to log in.")
        sanction, target = await self._sanction(actor, name, SanctionKind.BAN, span, reason)
        text = f"You have been banned {_ending(sanction)}: {reason}"
        for player in self._presence.all():
            if player.account_id == target.account_id:
                self._disconnector.disconnect(player.id, text)
        return f"The account {target.name} is banned {_ending(sanction)}."

    async def unmute(self, actor: Actor, name: str) -> str:
        target = await self._lift(actor, name, SanctionKind.MUTE)
        self._tell(target, "You may speak again.")
        return f"{target.name} may speak again."

    async def unfreeze(self, actor: Actor, name: str) -> str:
        target = await self._lift(actor, name, SanctionKind.FREEZE)
        self._tell(target, "You are no longer frozen.")
        return f"{target.name} is no longer frozen."

    async def unban(self, actor: Actor, name: str) -> str:
        target = await self._lift(actor, name, SanctionKind.BAN)
        return f"The account {target.name} is no longer banned."

    async def _sanction(
        self,
        actor: Actor,
        name: str,
        kind: SanctionKind,
        span: timedelta | None,
        reason: str,
    ) -> tuple[Sanction, Target]:
        now = self._clock.now()
        ends_at = None if span is None else now + span
        async with self._uow() as uow:
            target = await self._target(uow, name, kind)
            _check(actor, target)
            sanction = await uow.moderation.add_sanction(
                target.account_id, kind, reason, by=actor.account_id, now=now, ends_at=ends_at
            )
            detail = f"{_ending(sanction)}; {reason}" if reason else _ending(sanction)
            await uow.moderation.audit(AuditAction(kind.value), actor.ref, target.ref, detail, now)
        if kind is not SanctionKind.BAN:
            self._book.record(sanction)
        return sanction, target

    async def _lift(self, actor: Actor, name: str, kind: SanctionKind) -> Target:
        now = self._clock.now()
        async with self._uow() as uow:
            target = await self._target(uow, name, kind)
            _check(actor, target)
            if not await uow.moderation.lift(target.account_id, kind, now):
                raise NotFound(f"{target.name} is not under a {kind.value}.")
            undo = AuditAction(f"un{kind.value}")
            await uow.moderation.audit(undo, actor.ref, target.ref, "", now)
        self._book.lift(target.account_id, kind)
        return target

    async def _target(self, uow: UnitOfWork, name: str, kind: SanctionKind) -> Target:
        """A character by exact name (an account by username first, for bans)."""
        if kind is SanctionKind.BAN:
            account = await uow.accounts.find_by_username(name)
            if account is not None:
                return Target(account.id, account.username, account.role)
        player = self._online(name)
        if player is None:
            try:
                player = await uow.players.get_player_by_name(name)
            except PlayerNotFound:
                if kind is SanctionKind.BAN:
                    raise AccountNotFound(f"There is no account called {name[:32]}.") from None
                raise
        if kind is SanctionKind.BAN:
            account = await uow.accounts.get_account(player.account_id)
            return Target(account.id, account.username, account.role)
        return Target(player.account_id, player.name, player.role)

    def _online(self, name: str) -> Player | None:
        player = self._presence.find(name)
        return player if player is not None and name_key(player.name) == name_key(name) else None

    def _tell(self, target: Target, text: str) -> None:
        for player in self._presence.all():
            if player.account_id == target.account_id:
                self._messenger.to_player(player.id, frames.message("system", text))


def _check(actor: Actor, target: Target) -> None:
    check_may_sanction(actor.role, target.role, same_account=actor.account_id == target.account_id)


def _ending(sanction: Sanction) -> str:
    return "forever" if sanction.ends_at is None else f"until {when(sanction.ends_at)}"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
