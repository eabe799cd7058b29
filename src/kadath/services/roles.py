"""Granting roles: admins only, never to their own account (so an admin cannot demote the
last admin by accident); characters in play take the new role after the commit."""

from __future__ import annotations

from collections.abc import Callable

from kadath.domain.account import Account, Role
from kadath.domain.errors import AccountNotFound, Forbidden, PlayerNotFound
from kadath.domain.moderation import AuditAction
from kadath.services import messenger as frames
from kadath.services.clock import Clock
from kadath.services.messenger import Messenger
from kadath.services.moderation import AccountNews, Actor, ModerationElsewhere
from kadath.services.presence import Presence
from kadath.services.unit_of_work import UnitOfWork


class RoleService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        presence: Presence,
        messenger: Messenger,
        clock: Clock,
    ) -> None:
        self._uow, self._presence, self._messenger, self._clock = uow, presence, messenger, clock
        self.elsewhere: ModerationElsewhere | None = None  # set by ``kadath serve --cluster``

    async def grant(self, actor: Actor, name: str, role: Role) -> Account:
        """Give the account ``name`` (a username, or one of its characters' names) ``role``.
        Raises Forbidden, AccountNotFound."""
        if not actor.role.at_least(Role.ADMIN):
            raise Forbidden("Only admins grant roles.")
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.accounts.find_by_username(name)
            if account is None:
                try:
                    player = await uow.players.get_player_by_name(name)
                except PlayerNotFound:
                    raise AccountNotFound(f"There is no account called {name[:32]}.") from None
                account = await uow.accounts.get_account(player.account_id)
            if account.id == actor.account_id:
                raise Forbidden("You cannot change your own role.")
            before = account.role
            account = await uow.accounts.set_role(account.id, role)
            await uow.moderation.audit(
                AuditAction.ROLE,
                actor.ref,
                (account.id, account.username),
                f"{before.value} -> {role.value}",
                now,
            )
        text = f"{actor.name} made you {_article(role)} {role.value}."
        for player in self._presence.all():
            if player.account_id == account.id:
                player.role = role
                self._messenger.to_player(player.id, frames.message("system", text))
        if self.elsewhere is not None:  # its characters in play on other processes
            await self.elsewhere.account_news(AccountNews(account.id, role=role, tell=text))
        return account


def _article(role: Role) -> str:
    return "an" if role.value[0] in "aeiou" else "a"
