"""The FastAPI application: routes, error handling, the browser client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from kadath import __version__
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
    routers = (auth, players, world, monitoring, admin)
    for router in (module.router for module in routers):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    return app
