"""Turning Kadath's errors into HTTP answers: the status by kind, the sentence as ``detail``."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from kadath.domain import errors as e

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
        headers = {"Retry-After": "60"} if code == status.HTTP_429_TOO_MANY_REQUESTS else None
        return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)

    app.add_exception_handler(e.KadathError, handle)
