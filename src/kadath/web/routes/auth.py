"""/api/auth: register, log in, who am I, invites."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from kadath.web.dependencies import AccountDep, AdminDep, RuntimeDep
from kadath.web.routes import Routes
from kadath.web.schemas import AccountOut, InviteOut, RegisterIn, TokenOut, error_responses

router = Routes(prefix="/api/auth", tags=["auth"])
_ERRORS = error_responses(400, 401, 403, 409, 422, 429)


@router.post(
    "/register", status_code=status.HTTP_201_CREATED, response_model=AccountOut, responses=_ERRORS
)
async def register(body: RegisterIn, request: Request, runtime: RuntimeDep) -> AccountOut:
    """Create an account. The first account on a fresh install becomes an admin; in
    ``invite`` mode an unused invite code is required. Rate-limited per client address;
    answered 429 "busy, try again" when too many passwords wait to be hashed."""
    account = await runtime.auth.register(
        body.username, body.password, body.invite_code, _client(request)
    )
    return AccountOut.of(account)


@router.post("/login", response_model=TokenOut, responses=_ERRORS)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, runtime: RuntimeDep
) -> TokenOut:
    """Exchange a username and password (form-encoded, OAuth2 style) for a bearer token.
    Rate-limited per client address and per account; answered 429 "busy, try again" when too
    many passwords wait to be hashed."""
    token = await runtime.auth.login(form.username, form.password, _client(request))
    return TokenOut(access_token=token)


@router.get("/me", response_model=AccountOut, responses=_ERRORS)
async def me(account: AccountDep) -> AccountOut:
    """The account the bearer token speaks for."""
    return AccountOut.of(account)


@router.post(
    "/invites", status_code=status.HTTP_201_CREATED, response_model=InviteOut, responses=_ERRORS
)
async def create_invite(admin: AdminDep, runtime: RuntimeDep) -> InviteOut:
    """Admins: create a single-use invite code."""
    return InviteOut.of(await runtime.auth.create_invite(admin))


@router.get("/invites", response_model=list[InviteOut], responses=_ERRORS)
async def list_invites(admin: AdminDep, runtime: RuntimeDep) -> list[InviteOut]:
    """Admins: every invite code and whether it was used."""
    return [InviteOut.of(i) for i in await runtime.auth.list_invites(admin)]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
