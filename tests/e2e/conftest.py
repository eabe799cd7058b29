"""End-to-end fixtures: a real server per test on SQLite (and PostgreSQL when
``KADATH_TEST_POSTGRES_URL`` is set), an API client, and players connected over WebSocket.

Each server gets a fresh database and data directory of its own; ``start_server`` takes
Settings overrides for tests that need other limits."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kadath_e2e import (
    Account,
    Api,
    Character,
    Connect,
    GameClient,
    NewCharacter,
    RunningServer,
    StartServer,
    new_account,
    starting_servers,
)
from kadath_e2e import new_character as create_character

PG_URL = os.environ.get("KADATH_TEST_POSTGRES_URL")


@pytest.fixture
def e2e_backend(backend: str) -> str:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    return backend


@pytest.fixture
async def start_server(
    e2e_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[StartServer]:
    """Start servers (each on a fresh database); all are stopped at teardown."""
    async with starting_servers(e2e_backend, tmp_path, request.config) as start:
        yield start


@pytest.fixture
async def server(start_server: StartServer) -> RunningServer:
    return await start_server()


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[Api]:
    """An API client; the server's first account (the admin) is already taken, so every
    account a test makes is an ordinary one."""
    client = Api.to(server.base_url)
    try:
        client.admin = await new_account(client, "keeper")
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def new_character(api: Api) -> NewCharacter:
    async def make(account: Account | None = None) -> Character:
        return await create_character(api, account)

    return make


@pytest.fixture
async def connect(server: RunningServer, new_character: NewCharacter) -> AsyncIterator[Connect]:
    """Open a connection and greet as ``character`` (a new one when not given)."""
    clients: list[GameClient] = []

    async def play(character: Character | None = None) -> GameClient:
        character = character or await new_character()
        client = await GameClient.open(server.ws_url, character.name)
        clients.append(client)
        await client.hello(character.token, character.name)
        return client

    try:
        yield play
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
