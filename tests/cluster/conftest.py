"""Cluster tests: a private NATS server and a PostgreSQL database of their own per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kadath_cluster import PG_URL, PrivateNats, migrated_database, private_nats
from kadath_serve import Cluster, starting_cluster


@pytest.fixture(scope="module")
async def database_url() -> AsyncIterator[str]:
    if not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    async with migrated_database(PG_URL) as url:
        yield url


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[PrivateNats]:
    """A NATS server of this test's own (a fresh bucket, and free to stop)."""
    async with private_nats(tmp_path) as server:
        yield server


@pytest.fixture(scope="module")
async def serve_cluster(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    """Two ``kadath serve --cluster`` processes and their NATS server, for a whole module."""
    root = tmp_path_factory.mktemp("serve")
    async with private_nats(root) as nats, starting_cluster(database_url, nats.url, root) as c:
        yield c


@pytest.fixture
async def own_cluster(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Two ``kadath serve --cluster`` processes and their NATS server, for one test (which may
    stop them)."""
    async with (
        private_nats(tmp_path) as nats,
        starting_cluster(database_url, nats.url, tmp_path) as c,
    ):
        yield c
