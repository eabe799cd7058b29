"""The dependencies routes declare: the runtime, the caller's account, a role at least."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from kadath.domain.account import Account, Role
from kadath.domain.errors import AuthenticationFailed
from kadath.web.runtime import Runtime

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_account(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2)]
) -> Account:
    if not token:
        raise _unauthorized("Not logged in.")
    try:
        return await runtime.auth.authenticate(token)
    except AuthenticationFailed as exc:
        raise _unauthorized(str(exc)) from None


AccountDep = Annotated[Account, Depends(current_account)]


def at_least(role: Role) -> Callable[[Account], Awaitable[Account]]:
    """A dependency: the caller's account, if its role is ``role`` or above (else 403)."""
    allowed = " and ".join(f"{r.value}s" for r in Role if r.at_least(role))

    async def check(account: AccountDep) -> Account:
        if not account.role.at_least(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"Only {allowed} may do that.")
        return account

    return check


AdminDep = Annotated[Account, Depends(at_least(Role.ADMIN))]
ModeratorDep = Annotated[Account, Depends(at_least(Role.MODERATOR))]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )
