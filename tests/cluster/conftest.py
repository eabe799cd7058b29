"""Cluster tests: a private NATS server and a PostgreSQL database of their own per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kadath_cluster import PG_URL, PrivateNats, migrated_database, private_nats


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
