"""In-process REST fixtures: the app with its lifespan running (in-process transports do not run
it), on a fresh SQLite file, and on a fresh PostgreSQL database when ``KADATH_TEST_POSTGRES_URL``
is set; and an httpx2 client speaking to it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from kadath_web import SECRET, StartApp, User, WebApp, register

from kadath.bootstrap import create_app
from kadath.settings import Settings

PG_URL = os.environ.get("KADATH_TEST_POSTGRES_URL")


def _skip_without_postgres(backend: str) -> None:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")


@pytest.fixture
def web_backend(backend: str) -> str:
    _skip_without_postgres(backend)
    return backend


async def _open_app(
    stack: contextlib.AsyncExitStack,
    backend: str,
    data_dir: Path,
    request: pytest.FixtureRequest,
    **overrides: Any,
) -> WebApp:
    """An app on a fresh database with its lifespan entered, closed when ``stack`` closes."""
    if backend == "postgresql":
        assert PG_URL is not None
        fresh = _root_conftest(request).fresh_postgres_database
        url = await stack.enter_async_context(fresh(PG_URL))
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'kadath.db'}"
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": url,
        "secret_key": SECRET,
        "argon2_time_cost": 1,
        "argon2_memory_cost": 1024,
        "login_rate_limit": "1000/minute",
        "registration_rate_limit": "1000/minute",
        "log_level": "WARNING",
        "npc_spawning": False,
        "telnet_port": 0,
        **overrides,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    app = create_app(settings)
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx2.ASGITransport(app=app)
    client = httpx2.AsyncClient(transport=transport, base_url="http://kadath.test", trust_env=False)
    await stack.enter_async_context(client)
    return WebApp(app, client, settings)


@pytest.fixture
async def start_app(
    web_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[StartApp]:
    """Start apps (each with a fresh database and its lifespan entered); closed at teardown."""
    async with contextlib.AsyncExitStack() as stack:
        count = 0

        async def start(**overrides: Any) -> WebApp:
            nonlocal count
            count += 1
            return await _open_app(
                stack, web_backend, tmp_path / f"app{count}", request, **overrides
            )

        yield start


@pytest.fixture(scope="module")
async def module_app(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[WebApp]:
    """One app shared by a whole module (on each backend), for tests that only add data."""
    _skip_without_postgres(backend)
    async with contextlib.AsyncExitStack() as stack:
        yield await _open_app(stack, backend, tmp_path_factory.mktemp("app"), request)


@pytest.fixture
async def web(start_app: StartApp) -> WebApp:
    return await start_app()


@pytest.fixture
async def client(web: WebApp) -> httpx2.AsyncClient:
    return web.client


@pytest.fixture
async def admin(client: httpx2.AsyncClient) -> User:
    """The first account, which the server makes an admin."""
    return await register(client, "keeper")


@pytest.fixture
async def user(client: httpx2.AsyncClient, admin: User) -> User:
    """An ordinary account (registered after the admin)."""
    return await register(client)


def _root_conftest(request: pytest.FixtureRequest) -> Any:
    """tests/conftest.py as pytest loaded it (conftests are not importable by name)."""
    wanted = Path(__file__).resolve().parent.parent / "conftest.py"
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == wanted:
            return plugin
    raise LookupError(f"{wanted} is not loaded")
