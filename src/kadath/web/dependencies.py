"""The dependencies routes declare: the runtime, the caller's account, an admin account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from kadath.domain.account import Account
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


async def admin_account(account: AccountDep) -> Account:
    if not account.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only admins may do that.")
    return account


AdminDep = Annotated[Account, Depends(admin_account)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )
