"""AccountRepository: the people who log in, and invitation codes."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.account import Account, Invite, Role
from kadath.domain.errors import AccountNotFound, DuplicateName, InvalidName, NotFound
from kadath.persistence.mapping import account_from_row
from kadath.persistence.models import AccountRow, InviteRow, utcnow

USERNAME_MIN, USERNAME_MAX = 3, 32


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create_account(
        self, username: str, password_hash: str, *, role: Role = Role.PLAYER
    ) -> Account:
        """Raises InvalidInput, DuplicateName."""
        if not isinstance(username, str) or not USERNAME_MIN <= len(username) <= USERNAME_MAX:
            raise InvalidName(f"A username must be {USERNAME_MIN} to {USERNAME_MAX} characters.")
        row = AccountRow(
            username=username,
            username_key=username.casefold(),
            password_hash=password_hash,
            role=role.value,
            created_at=utcnow(),
        )
        try:
            async with self._session.begin_nested():
                self._session.add(row)
                await self._session.flush()
        except IntegrityError:
            raise DuplicateName("That username is taken.") from None
        return account_from_row(row)

    async def get_account(self, account_id: uuid.UUID) -> Account:
        """Raises AccountNotFound."""
        row = await self._session.get(AccountRow, account_id)
        if row is None:
            raise AccountNotFound("No such account.")
        return account_from_row(row)

    async def find_by_username(self, username: str) -> Account | None:
        row = await self._session.scalar(
            sa.select(AccountRow).where(AccountRow.username_key == username.casefold())
        )
        return account_from_row(row) if row else None

    async def set_role(self, account_id: uuid.UUID, role: Role) -> Account:
        """The account with its new role. Raises AccountNotFound."""
        row = await self._session.scalar(
            sa.update(AccountRow)
            .where(AccountRow.id == account_id)
            .values(role=role.value)
            .returning(AccountRow)
        )
        if row is None:
            raise AccountNotFound("No such account.")
        return account_from_row(row)

    async def count_accounts(self) -> int:
        return int(await self._session.scalar(sa.select(sa.func.count(AccountRow.id))) or 0)

    async def create_invite(self, code: str, created_by: uuid.UUID) -> Invite:
        row = InviteRow(code=code, created_by=created_by, created_at=utcnow())
        self._session.add(row)
        await self._session.flush()
        return Invite(code=row.code, created_by=row.created_by, created_at=row.created_at)

    async def list_invites(self, created_by: uuid.UUID | None = None) -> list[Invite]:
        stmt = sa.select(InviteRow).order_by(InviteRow.created_at)
        if created_by is not None:
            stmt = stmt.where(InviteRow.created_by == created_by)
        rows = await self._session.scalars(stmt)
        return [Invite(r.code, r.created_by, r.created_at, r.used_by, r.used_at) for r in rows]

    async def use_invite(self, code: str, account_id: uuid.UUID, when: datetime) -> None:
        """Mark an unused invite used. Raises NotFound when it is unknown or spent."""
        result = await self._session.execute(
            sa.update(InviteRow)
            .where(InviteRow.code == code, InviteRow.used_by.is_(None))
            .values(used_by=account_id, used_at=when)
            .returning(InviteRow.code)
        )
        if result.first() is None:
            raise NotFound("That invite code is unknown or already used.")
