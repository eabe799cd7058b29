"""Zone grants: a builder (or moderator) builds only in the zones granted to their account;
admins build everywhere. Grants are kept in memory (loaded at start-up, changed only after
the commit that wrote them), so ``can_build`` needs no query."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from kadath.domain.account import Account, Role
from kadath.domain.build_grant import BuildGrant, GrantListing
from kadath.domain.errors import AccountNotFound, Forbidden, NotFound, PlayerNotFound
from kadath.domain.moderation import AuditAction
from kadath.domain.world import World
from kadath.services.clock import Clock
from kadath.services.moderation import AccountNews, Actor, ModerationElsewhere
from kadath.services.unit_of_work import UnitOfWork


class GrantBook:
    """The zones granted to each account."""

    def __init__(self) -> None:
        self._zones: dict[uuid.UUID, set[str]] = {}

    def load(self, grants: Iterable[BuildGrant]) -> None:
        for grant in grants:
            self.record(grant.account_id, grant.zone_id)

    def record(self, account_id: uuid.UUID, zone_id: str) -> None:
        """After the commit that wrote the grant."""
        self._zones.setdefault(account_id, set()).add(zone_id)

    def forget(self, account_id: uuid.UUID, zone_id: str) -> None:
        """After the commit that revoked the grant."""
        self._zones.get(account_id, set()).discard(zone_id)

    def has(self, account_id: uuid.UUID, zone_id: str) -> bool:
        return zone_id in self._zones.get(account_id, ())

    def allows(self, role: Role, account_id: uuid.UUID, zone_id: str) -> bool:
        """Admins build everywhere; builders and moderators only in their granted zones;
        players nowhere."""
        if role.at_least(Role.ADMIN):
            return True
        return role.at_least(Role.BUILDER) and self.has(account_id, zone_id)


class GrantService:
    """Granting and revoking zones: admins only; each change is in the audit log."""

    def __init__(
        self, uow: Callable[[], UnitOfWork], book: GrantBook, world: World, clock: Clock
    ) -> None:
        self._uow, self._book, self._world, self._clock = uow, book, world, clock
        self.elsewhere: ModerationElsewhere | None = None  # set by ``kadath serve --cluster``

    def apply(self, news: AccountNews) -> None:
        """A zone granted or revoked on another process of a cluster."""
        if news.granted is not None:
            self._book.record(news.account_id, news.granted)
        if news.revoked is not None:
            self._book.forget(news.account_id, news.revoked)

    async def grant(self, actor: Actor, name: str, zone_id: str) -> tuple[Account, bool]:
        """Grant zone ``zone_id`` to the account ``name`` (a username or one of its
        characters' names); whether it is new. Raises Forbidden, AccountNotFound,
        NotFound (no such zone)."""
        _admin_only(actor)
        if zone_id not in self._world.zones:
            raise NotFound(f"There is no zone '{zone_id[:64]}'.")
        now = self._clock.now()
        async with self._uow() as uow:
            account = await _account(uow, name)
            added = await uow.grants.add(account.id, zone_id, by=actor.account_id, now=now)
            if added is not None:
                await uow.moderation.audit(
                    AuditAction.GRANT, actor.ref, (account.id, account.username), zone_id, now
                )
        if added is not None:
            self._book.record(account.id, zone_id)
            if self.elsewhere is not None:
                await self.elsewhere.account_news(AccountNews(account.id, granted=zone_id))
        return account, added is not None

    async def revoke(self, actor: Actor, name: str, zone_id: str) -> tuple[Account, bool]:
        """Take zone ``zone_id`` back; whether the account had it. Raises Forbidden,
        AccountNotFound."""
        _admin_only(actor)
        now = self._clock.now()
        async with self._uow() as uow:
            account = await _account(uow, name)
            removed = await uow.grants.remove(account.id, zone_id)
            if removed:
                await uow.moderation.audit(
                    AuditAction.REVOKE, actor.ref, (account.id, account.username), zone_id, now
                )
        if removed:
            self._book.forget(account.id, zone_id)
            if self.elsewhere is not None:
                await self.elsewhere.account_news(AccountNews(account.id, revoked=zone_id))
        return account, removed

    async def of(self, actor: Actor, name: str | None) -> list[GrantListing]:
        """Every grant, or one account's. Raises Forbidden, AccountNotFound."""
        _admin_only(actor)
        async with self._uow() as uow:
            account_id = None if not name else (await _account(uow, name)).id
            return await uow.grants.listing(account_id)

    def zone_name(self, zone_id: str) -> str:
        zone = self._world.zones.get(zone_id)
        return zone_id if zone is None else zone.name


def _admin_only(actor: Actor) -> None:
    if not actor.role.at_least(Role.ADMIN):
        raise Forbidden("Only admins grant or revoke zones.")


async def _account(uow: UnitOfWork, name: str) -> Account:
    account = await uow.accounts.find_by_username(name)
    if account is not None:
        return account
    try:
        player = await uow.players.get_player_by_name(name)
    except PlayerNotFound:
        raise AccountNotFound(f"There is no account called {name[:32]}.") from None
    return await uow.accounts.get_account(player.account_id)
