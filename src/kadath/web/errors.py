"""Turning Kadath's errors into HTTP answers: the status by kind, the sentence as ``detail``.

An outage is 503 with ``Retry-After``; anything unhandled is a bug: 500 with a generic
detail, its traceback logged once here."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kadath.domain import errors as e

log = structlog.get_logger(__name__)
RETRY_AFTER = {
    status.HTTP_429_TOO_MANY_REQUESTS: "60",
    status.HTTP_503_SERVICE_UNAVAILABLE: "5",  # the pool reconnects within seconds
}
BUSY_RETRY_AFTER = "2"
BUG_DETAIL = "Something went wrong; it has been logged."

STATUS: list[tuple[type[e.KadathError], int]] = [
    (e.AuthenticationFailed, status.HTTP_401_UNAUTHORIZED),
    (e.RateLimited, status.HTTP_429_TOO_MANY_REQUESTS),
    (e.NotOwner, status.HTTP_403_FORBIDDEN),
    (e.NotAllowed, status.HTTP_403_FORBIDDEN),
    (e.NotFound, status.HTTP_404_NOT_FOUND),
    (e.Conflict, status.HTTP_409_CONFLICT),
    (e.InvalidInput, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (e.ContainerFull, status.HTTP_409_CONFLICT),
    (e.ContainerLocked, status.HTTP_409_CONFLICT),
    (e.DomainError, status.HTTP_400_BAD_REQUEST),
    (e.InfrastructureError, status.HTTP_503_SERVICE_UNAVAILABLE),
]


def status_for(exc: e.KadathError) -> int:
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return code
    return status.HTTP_500_INTERNAL_SERVER_ERROR


def install(app: FastAPI) -> None:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.KadathError)
        code = status_for(exc)
        # Busy (the hashing queue is full) clears in a second or two, unlike a rate limit.
        retry = BUSY_RETRY_AFTER if isinstance(exc, e.Busy) else RETRY_AFTER.get(code)
        headers = {"Retry-After": retry} if retry else None
        return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)

    app.add_exception_handler(e.KadathError, handle)
    app.add_middleware(BugCatcher)


class BugCatcher:
    """Answers an unhandled exception with a generic 500 and logs it once, with its
    traceback (Starlette's own handler would re-raise it for the server to log again)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("request_failed", method=scope["method"], path=scope["path"])
            if started:
                raise  # too late for an answer of our own: the server drops the connection
            response = JSONResponse({"detail": BUG_DETAIL}, status_code=500)
            await response(scope, receive, send)
