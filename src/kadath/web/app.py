"""The FastAPI application: routes, error handling, the browser client."""

from __future__ import annotations

import enum
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from kadath import __version__
from kadath.docstrings import docstrings_stripped, source_docstring
from kadath.web import errors, game_socket
from kadath.web.routes import admin, auth, monitoring, players, world
from kadath.web.runtime import Runtime

STATIC_DIR = Path(__file__).parent / "static"
RuntimeFactory = Callable[[], AbstractAsyncContextManager[Runtime]]


class KadathApp(FastAPI):
    """FastAPI, with the game's WebSocket (``/ws``) handed straight to its handler.

    Every game connection lives as long as its player plays, and the router and middleware
    it would otherwise pass through (error handling and telemetry middleware, FastAPI's
    routing and its two ``AsyncExitStack``s) stay suspended under it all that time, and wrap
    each frame sent: ~12 KiB a connection and a few calls a frame, for nothing the handler
    uses (it needs no dependency, raises no HTTP error, and what escapes it goes to uvicorn,
    which logs it and closes the socket, as it would through the stack). Everything else,
    the HTTP API and the lifespan, is FastAPI's as usual."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == game_socket.PATH:
            scope["app"] = self
            await game_socket.game_socket(WebSocket(scope, receive, send), self.state.runtime)
            return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None and docstrings_stripped():
            restore_enum_docstrings()
        return super().openapi()


def restore_enum_docstrings() -> None:
    """Under ``python -OO``, before the OpenAPI document is built: Kadath's enums get their
    docstrings back, which their schemas describe themselves with."""
    for name, module in list(sys.modules.items()):
        if name.startswith("kadath.") and module is not None:
            for value in list(vars(module).values()):
                if (
                    isinstance(value, type)
                    and issubclass(value, enum.Enum)
                    and value.__module__ == name
                    and value.__doc__ is None
                ):
                    value.__doc__ = source_docstring(value)


def build_app(start_runtime: RuntimeFactory) -> FastAPI:
    """An app whose lifespan opens the runtime ``start_runtime`` yields and closes it after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with start_runtime() as runtime:
            app.state.runtime = runtime
            yield

    app = KadathApp(
        title="Kadath",
        version=__version__,
        description="A multiplayer text game server whose persistence is async end to end. "
        "Game play is over the WebSocket at /ws (see docs/protocol.md).",
        lifespan=lifespan,
    )
    errors.install(app)
    for module in (auth, players, world, monitoring, admin):
        module.router.install(app)  # (kadath.web.routes: not include_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    return app
