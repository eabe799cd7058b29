"""What the API answers while the database is out of reach (503, Retry-After, readiness, metrics)
and when it hits a bug (500, a generic detail, one traceback in the log)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import httpx2
import sqlalchemy as sa
from kadath_web import PASSWORD, User, WebApp
from structlog.testing import capture_logs

from kadath.persistence.engine import create_engine, create_session_factory
from kadath.persistence.errors import UNAVAILABLE
from kadath.persistence.layer import AsyncPersistenceLayer


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def unplugged(layer: AsyncPersistenceLayer) -> Iterator[None]:
    """Point the running layer at a database that refuses every connection, then back."""
    dead = create_engine(f"postgresql+asyncpg://kadath@127.0.0.1:{closed_port()}/kadath")
    engine, sessions, reads = layer.engine, layer._sessions, layer._reads
    layer.engine, layer._sessions, layer._reads = dead, create_session_factory(dead), None
    try:
        yield
    finally:
        layer.engine, layer._sessions, layer._reads = engine, sessions, reads


async def test_login_during_an_outage_answers_503_with_retry_after(
    web: WebApp, client: httpx2.AsyncClient, admin: User
) -> None:
    with unplugged(web.runtime.persistence):
        response = await client.post(
            "/api/auth/login", data={"username": admin.username, "password": PASSWORD}
        )
        me = await client.get("/api/auth/me", headers=admin.headers)

    assert response.status_code == 503, response.text
    assert response.json() == {"detail": UNAVAILABLE}
    assert int(response.headers["retry-after"]) > 0
    assert me.status_code == 503
    assert "retry-after" in me.headers


async def test_readiness_and_metrics_follow_the_outage_and_the_recovery(
    web: WebApp, client: httpx2.AsyncClient
) -> None:
    assert (await client.get("/api/monitoring/ready")).status_code == 200
    with unplugged(web.runtime.persistence):
        down = await client.get("/api/monitoring/ready")
        down_metrics = (await client.get("/metrics")).text
    up = await client.get("/api/monitoring/ready")
    up_metrics = (await client.get("/metrics")).text

    assert down.status_code == 503
    assert "retry-after" in down.headers
    assert "kadath_database_up 0.0" in down_metrics
    assert up.status_code == 200
    assert "kadath_database_up 1.0" in up_metrics
    assert "kadath_database_outages_total 1.0" in up_metrics


async def test_a_bug_answers_500_with_a_generic_detail_and_one_logged_traceback(
    web: WebApp, client: httpx2.AsyncClient, admin: User
) -> None:
    engine = web.runtime.persistence.engine
    async with engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE invites RENAME TO invites_away"))
    try:
        with capture_logs() as logs:
            response = await client.get("/api/auth/invites", headers=admin.headers)
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE invites_away RENAME TO invites"))

    assert response.status_code == 500
    assert response.json() == {"detail": "Something went wrong; it has been logged."}
    failures = [entry for entry in logs if entry["log_level"] in ("error", "critical")]
    assert [entry["event"] for entry in failures] == ["request_failed"]
    assert failures[0]["exc_info"]
    assert web.runtime.persistence.availability.up
