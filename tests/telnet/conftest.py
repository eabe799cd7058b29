"""Telnet fixtures: a real Kadath server (HTTP and telnet, each on a free port) per test, on
SQLite and on PostgreSQL when ``KADATH_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# the end-to-end helpers (a real server, a WebSocket client) live beside the e2e tests
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

from kadath_e2e import RunningServer, StartServer, starting_servers
from kadath_telnet import Persona, TelnetClient, free_port, telnet_port

PG_URL = os.environ.get("KADATH_TEST_POSTGRES_URL")


@pytest.fixture
def telnet_backend(backend: str) -> str:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    return backend


@pytest.fixture
async def start_server(
    telnet_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[StartServer]:
    def each() -> dict[str, Any]:  # every server its own telnet port
        return {"telnet_port": free_port(), "telnet_negotiation_wait": 0.5}

    async with starting_servers(telnet_backend, tmp_path, request.config, each) as start:
        yield start


@pytest.fixture
async def server(start_server: StartServer) -> RunningServer:
    return await start_server()


@pytest.fixture
async def telnet(server: RunningServer) -> AsyncIterator[Any]:
    """Open telnet connections to ``server`` as a given persona; all closed at teardown."""
    clients: list[TelnetClient] = []

    async def open_client(persona: Persona | None = None, **kwargs: Any) -> TelnetClient:
        client = await TelnetClient.open(telnet_port(server), persona or Persona(), **kwargs)
        clients.append(client)
        return client

    try:
        yield open_client
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
