"""Moderators' use cases: kick, mute, freeze, ban and their undoing. Each validates, then
writes the sanction and its audit entry in one unit of work; the in-memory book, the
messages and any disconnection follow the commit.

What a change means for an account's characters in play (a sanction recorded or lifted in
the book, a role, a line to tell them, their connections to end) is ``AccountNews``, applied
here (``apply``) and, in a cluster, handed to ``elsewhere`` (a port the cluster node sets;
None in one process), which has every other process apply it too: the account's characters
may be in play there, or walk there later."""

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


@dataclass(frozen=True, slots=True)
class AccountNews:
    """A change to an account, for its characters in play (``player_id``: only that one)."""

    account_id: uuid.UUID
    recorded: Sanction | None = None  # a mute or freeze now in force
    lifted: SanctionKind | None = None
    role: Role | None = None
    tell: str | None = None  # a system message to them
    disconnect: str | None = None  # their connections end with this
    player_id: uuid.UUID | None = None
    granted: str | None = None  # a zone it may build in now (``GrantService.apply``)
    revoked: str | None = None  # a zone it may build in no more


class ModerationElsewhere(Protocol):
    """The other processes of a cluster, as moderation sees them (``kadath serve --cluster``
    sets ``elsewhere`` on the moderation, report, role and grant services)."""

    async def account_news(self, news: AccountNews) -> None:
        """Have every other process apply ``news`` (``ModerationService.apply``)."""
        ...

    async def staff_notice(self, text: str) -> None:
        """Show ``text`` to the moderators in play on the other processes."""
        ...

    async def in_play(self, player_id: uuid.UUID) -> bool:
        """Whether the character is in play on another process."""
        ...


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
        self.elsewhere: ModerationElsewhere | None = None  # set by ``kadath serve --cluster``

    def apply(self, news: AccountNews) -> None:
        """Apply a change to an account here: the book, then its characters in play."""
        if news.recorded is not None:
            self._book.record(news.recorded)
        if news.lifted is not None:
            self._book.lift(news.account_id, news.lifted)
        for player in list(self._presence.all()):
            if player.account_id != news.account_id:
                continue
            if news.player_id is not None and player.id != news.player_id:
                continue
            if news.role is not None:
                player.role = news.role
            if news.tell is not None:
                self._messenger.to_player(player.id, frames.message("system", news.tell))
            if news.disconnect is not None:
                self._disconnector.disconnect(player.id, news.disconnect)

    async def _spread(self, news: AccountNews) -> None:
        """``apply`` here, then on the other processes of a cluster."""
        self.apply(news)
        if self.elsewhere is not None:
            await self.elsewhere.account_news(news)

    async def kick(self, actor: Actor, name: str, reason: str) -> str:
        """Raises PlayerNotFound, Forbidden, InvalidInput."""
        reason = clean_text(reason, MAX_REASON, "reason")
        player = self._online(name) or await self._in_play_elsewhere(name)
        if player is None:
            raise PlayerNotFound(f"Nobody called {name[:20]} is in the world.")
        target = Target(player.account_id, player.name, player.role)
        _check(actor, target)
        async with self._uow() as uow:
            await uow.moderation.audit(
                AuditAction.KICK, actor.ref, target.ref, reason, self._clock.now()
            )
        because = f": {reason}" if reason else "."
        text = f"You have been kicked by {actor.name}{because}"
        await self._spread(AccountNews(player.account_id, disconnect=text, player_id=player.id))
        return f"{player.name} is kicked."

    async def _in_play_elsewhere(self, name: str) -> Player | None:
        """The character called exactly ``name`` (as stored) if it is in play on another
        process of a cluster."""
        if self.elsewhere is None:
            return None
        async with self._uow() as uow:
            try:
                player = await uow.players.get_player_by_name(name)
            except PlayerNotFound:
                return None
        if name_key(player.name) != name_key(name):
            return None
        return player if await self.elsewhere.in_play(player.id) else None

    async def mute(self, actor: Actor, name: str, duration: str, reason: str) -> str:
        """Raises PlayerNotFound, Forbidden, InvalidInput."""
        span = parse_duration(duration)
        reason = clean_text(reason, MAX_REASON, "reason")
        sanction, target = await self._sanction(actor, name, SanctionKind.MUTE, span, reason)
        text = f"You have been muted {sanction.until(self._clock.now())}."
        await self._spread(AccountNews(target.account_id, recorded=sanction, tell=text))
        return f"{target.name} is muted for {describe(span or timedelta())}."

    async def freeze(self, actor: Actor, name: str, reason: str) -> str:
        """Raises PlayerNotFound, Forbidden, InvalidInput."""
        reason = clean_text(reason, MAX_REASON, "reason")
        sanction, target = await self._sanction(actor, name, SanctionKind.FREEZE, None, reason)
        text = "You have been frozen: you can only look, ask for help or quit."
        await self._spread(AccountNews(target.account_id, recorded=sanction, tell=text))
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
        await self._spread(AccountNews(target.account_id, disconnect=text))
        return f"The account {target.name} is banned {_ending(sanction)}."

    async def unmute(self, actor: Actor, name: str) -> str:
        target = await self._lift(actor, name, SanctionKind.MUTE)
        news = AccountNews(target.account_id, lifted=SanctionKind.MUTE, tell="You may speak again.")
        await self._spread(news)
        return f"{target.name} may speak again."

    async def unfreeze(self, actor: Actor, name: str) -> str:
        target = await self._lift(actor, name, SanctionKind.FREEZE)
        text = "You are no longer frozen."
        await self._spread(AccountNews(target.account_id, lifted=SanctionKind.FREEZE, tell=text))
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
        return sanction, target  # the caller records it (``AccountNews``)

    async def _lift(self, actor: Actor, name: str, kind: SanctionKind) -> Target:
        now = self._clock.now()
        async with self._uow() as uow:
            target = await self._target(uow, name, kind)
            _check(actor, target)
            if not await uow.moderation.lift(target.account_id, kind, now):
                raise NotFound(f"{target.name} is not under a {kind.value}.")
            undo = AuditAction(f"un{kind.value}")
            await uow.moderation.audit(undo, actor.ref, target.ref, "", now)
        return target  # the caller lifts it from the book (``AccountNews``)

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


def _check(actor: Actor, target: Target) -> None:
    check_may_sanction(actor.role, target.role, same_account=actor.account_id == target.account_id)


def _ending(sanction: Sanction) -> str:
    return "forever" if sanction.ends_at is None else f"until {when(sanction.ends_at)}"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
