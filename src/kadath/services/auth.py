"""Accounts: registration (open or by invite), login, access tokens, invite codes.

Password hashing runs in a thread (a bounded pool with a bounded queue), never on the event
loop. Registrations are limited per client address and yield the hashing queue to logins.
PyJWT, pwdlib and argon2 are imported at the first login or token check, on a worker thread,
not at start-up: an idle server never holds them."""

from __future__ import annotations

import asyncio
import importlib
import re
import secrets
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

from kadath.domain.account import Account, Invite, Role
from kadath.domain.errors import (
    AccountNotFound,
    AuthenticationFailed,
    Busy,
    InvalidInput,
    NotAllowed,
    NotFound,
    RateLimited,
    Sanctioned,
)
from kadath.domain.moderation import SanctionKind
from kadath.domain.ratelimit import KeyedLimiter, parse_rate
from kadath.services.clock import Clock
from kadath.services.moderation import when
from kadath.services.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from pwdlib import PasswordHash

USERNAME_MIN, USERNAME_MAX = 3, 32
PASSWORD_MIN, PASSWORD_MAX = 8, 128
ALGORITHM = "HS256"
_T = TypeVar("_T")
_INVITE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class PasswordHasher:
    """argon2id hashing on a small thread pool, so logins never stall the game.

    At most ``threads + queue`` hashes are in flight; a login past that, or a registration
    past ``threads + queue // 4``, is refused with Busy at once rather than queued, so a flood
    of registrations can never make a login wait behind it for long."""

    def __init__(
        self,
        threads: int = 2,
        time_cost: int | None = None,
        memory_cost: int | None = None,
        queue: int = 16,
    ) -> None:
        self._time_cost, self._memory_cost = time_cost or 3, memory_cost or 65536
        self._hash: PasswordHash | None = None  # made by the first hash, on a pool thread
        self._making = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kadath-argon2")
        self._login_limit = threads + queue
        self._registration_limit = threads + queue // 4
        self._in_flight = 0
        # A decoy hash so an unknown username costs as much as a wrong password; made on
        # first need, in the pool, so start-up never hashes on the event loop.
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        """A new hash (registration). Raises Busy."""
        return await self._run(self._registration_limit, self._new_hash, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Raises Busy."""
        if hashed is None:
            if self._decoy is None:
                self._decoy = await self._run(
                    self._login_limit, self._new_hash, secrets.token_hex(8)
                )
            hashed = self._decoy
        return await self._run(self._login_limit, self._verify, password, hashed)

    def _hasher(self) -> PasswordHash:
        """pwdlib's argon2id hasher, imported and built on first use (on a pool thread)."""
        with self._making:
            if self._hash is None:
                from pwdlib import PasswordHash
                from pwdlib.hashers.argon2 import Argon2Hasher

                hasher = Argon2Hasher(
                    time_cost=self._time_cost, memory_cost=self._memory_cost, parallelism=1
                )
                self._hash = PasswordHash((hasher,))
            return self._hash

    def _new_hash(self, password: str) -> str:
        return self._hasher().hash(password)

    def _verify(self, password: str, hashed: str) -> bool:
        return self._hasher().verify(password, hashed)

    async def _run(self, limit: int, work: Callable[..., _T], *args: str) -> _T:
        if self._in_flight >= limit:
            raise Busy("The server is busy; try again shortly.")
        self._in_flight += 1
        job = asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        job.add_done_callback(self._release)
        # shielded: a caller that goes away does not free the slot while its hash still runs
        return await asyncio.shield(job)

    def _release(self, _job: object) -> None:
        self._in_flight -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class TokenIssuer:
    """Signs and checks access tokens (HS256, a ``sub`` of the account id, an expiry)."""

    def __init__(self, secret: str, lifetime: timedelta, clock: Clock) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 characters")
        self._secret, self._lifetime, self._clock = secret, lifetime, clock

    @staticmethod
    async def ready() -> None:
        """Import PyJWT on a worker thread the first time, so the loop never waits on it."""
        if "jwt" not in sys.modules:
            await asyncio.to_thread(importlib.import_module, "jwt")

    def issue(self, account: Account) -> str:
        import jwt  # imported already by ``ready`` in the service's paths

        now = self._clock.now()
        claims = {"sub": str(account.id), "iat": now, "exp": now + self._lifetime}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def account_id(self, token: str) -> uuid.UUID:
        """The account a token speaks for. Raises AuthenticationFailed."""
        import jwt  # imported already by ``ready`` in the service's paths

        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
            )
            return uuid.UUID(str(claims["sub"]))
        except (jwt.PyJWTError, ValueError):
            raise AuthenticationFailed(
                "Your session is invalid or has expired; log in again."
            ) from None


class AuthService:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        clock: Clock,
        *,
        reading: Callable[[], UnitOfWork],
        registration: Literal["open", "invite"] = "open",
        login_rate: str = "10/minute",
        registration_rate: str = "5/hour",
    ) -> None:
        self._uow, self._hasher, self._tokens, self._clock = uow, hasher, tokens, clock
        self._reading = reading  # units of work that only read: no write lock on SQLite
        self.registration = registration
        capacity, rate = parse_rate(login_rate)
        self._by_ip = KeyedLimiter(capacity * 3, rate * 3)
        self._by_account = KeyedLimiter(capacity, rate)
        self._registrations_by_ip = KeyedLimiter(*parse_rate(registration_rate))
        self._registering = asyncio.Lock()

    async def register(
        self, username: str, password: str, invite_code: str | None, client_ip: str
    ) -> Account:
        """A new account; the very first one is an admin. Raises RateLimited (Busy),
        InvalidInput, DuplicateName, NotAllowed (invite needed or spent)."""
        if not self._registrations_by_ip.allow(client_ip, self._clock.monotonic()):
            raise RateLimited("Too many registrations from your address; try again later.")
        validate_username(username)
        validate_password(password)
        if invite_code is not None and not _INVITE_RE.fullmatch(invite_code):
            raise NotAllowed("That invite code is unknown or already used.")
        password_hash = await self._hasher.hash(password)
        # One registration at a time decides who is first (and so the admin).
        async with self._registering, self._uow() as uow:
            first = await uow.accounts.count_accounts() == 0
            if self.registration == "invite" and not first and not invite_code:
                raise NotAllowed("Registration needs an invite code.")
            role = Role.ADMIN if first else Role.PLAYER
            account = await uow.accounts.create_account(username, password_hash, role=role)
            if invite_code and not first:
                try:
                    await uow.accounts.use_invite(invite_code, account.id, self._clock.now())
                except NotFound as exc:
                    raise NotAllowed(str(exc)) from exc
        return account

    async def login(self, username: str, password: str, client_ip: str) -> str:
        """An access token for correct credentials. Raises RateLimited (Busy),
        AuthenticationFailed."""
        now = self._clock.monotonic()
        if not self._by_ip.allow(client_ip, now) or not self._by_account.allow(
            username.casefold()[:USERNAME_MAX], now
        ):
            raise RateLimited("Too many login attempts; wait a minute and try again.")
        account = None
        if len(password) > PASSWORD_MAX:
            raise AuthenticationFailed("Wrong username or password.")
        if _is_username(username):
            async with self._reading() as uow:
                account = await uow.accounts.find_by_username(username)
        ok = await self._hasher.verify(password, account.password_hash if account else None)
        if account is None or not ok:
            raise AuthenticationFailed("Wrong username or password.")
        async with self._reading() as uow:
            await self._refuse_banned(uow, account)
        await self._tokens.ready()
        return self._tokens.issue(account)

    async def authenticate(self, token: str) -> Account:
        """The account behind an access token. Raises AuthenticationFailed."""
        await self._tokens.ready()
        account_id = self._tokens.account_id(token)
        async with self._reading() as uow:
            try:
                account = await uow.accounts.get_account(account_id)
            except AccountNotFound:
                raise AuthenticationFailed("That account no longer exists.") from None
            await self._refuse_banned(uow, account)
        return account

    async def _refuse_banned(self, uow: UnitOfWork, account: Account) -> None:
        """Raises Sanctioned (HTTP 403) with the reason and end time of a ban in force."""
        for sanction in await uow.moderation.in_force(self._clock.now(), account_id=account.id):
            if sanction.kind is SanctionKind.BAN:
                ends = "for good" if sanction.ends_at is None else f"until {when(sanction.ends_at)}"
                raise Sanctioned(f"This account is banned {ends}: {sanction.reason}")

    async def create_invite(self, admin: Account) -> Invite:
        """Raises NotAllowed for non-admins."""
        if not admin.is_admin:
            raise NotAllowed("Only admins create invites.")
        async with self._uow() as uow:
            return await uow.accounts.create_invite(secrets.token_urlsafe(12), admin.id)

    async def list_invites(self, admin: Account) -> list[Invite]:
        if not admin.is_admin:
            raise NotAllowed("Only admins see invites.")
        async with self._reading() as uow:
            return await uow.accounts.list_invites()


def validate_username(username: object) -> str:
    if not isinstance(username, str) or not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        raise InvalidInput(f"A username must be {USERNAME_MIN} to {USERNAME_MAX} characters.")
    if not all(c.isalnum() or c in "_.-" for c in username) or not username.isascii():
        raise InvalidInput("A username may hold letters, digits, '.', '-' and '_' only.")
    return username


def _is_username(text: str) -> bool:
    try:
        validate_username(text)
    except InvalidInput:
        return False
    return True


def validate_password(password: object) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(f"A password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.")
    return password
