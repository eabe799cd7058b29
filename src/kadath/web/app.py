"""The FastAPI application: routes, error handling, the browser client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from kadath import __version__
from kadath.web import errors
from kadath.web.routes import admin, auth, monitoring, players, realtime, world
from kadath.web.runtime import Runtime

STATIC_DIR = Path(__file__).parent / "static"
RuntimeFactory = Callable[[], AbstractAsyncContextManager[Runtime]]


def build_app(start_runtime: RuntimeFactory) -> FastAPI:
    """An app whose lifespan opens the runtime ``start_runtime`` yields and closes it after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with start_runtime() as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="Kadath",
        version=__version__,
        description="A multiplayer text game server whose persistence is async end to end. "
        "Game play is over the WebSocket at /ws (see docs/protocol.md).",
        lifespan=lifespan,
    )
    errors.install(app)
    routers = (auth, players, world, monitoring, admin, realtime)
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
