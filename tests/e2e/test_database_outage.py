"""A PostgreSQL outage with 20 players in the world: a private cluster is stopped (fast, then
as after a crash: immediate) for 15 s and started again while a real server keeps running.

The server stays up; commands that need the database get one clear reply; commands that need
only memory keep working; hellos, logins and the readiness probe say "try again later"; once
the database is back everything works again within seconds, without a restart, and nothing
committed is lost. No command gets two replies or none."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kadath_e2e import PASSWORD, Api, Character, GameClient, RunningServer, server_settings
from kadath_e2e import new_account as create_account
from kadath_e2e import new_character as create_character
from private_postgres import PrivateCluster, private_cluster, unavailable_reason
from sqlalchemy.ext.asyncio import create_async_engine
from structlog.testing import capture_logs

from kadath.persistence.errors import UNAVAILABLE

PLAYERS = 20
OUTAGE_SECONDS = 15.0
RECOVERY_BOUND = 10.0  # seconds from the database's return to every player's command working
WAVERS = "The world wavers; try that again in a moment."
POKER = "poker"

pytestmark = pytest.mark.postgres


@pytest.fixture
async def cluster() -> AsyncIterator[PrivateCluster]:
    if not os.environ.get("KADATH_TEST_POSTGRES_URL"):
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    async with private_cluster() as running:
        yield running


@pytest.fixture
async def outage_server(cluster: PrivateCluster, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = server_settings(
        data_dir=tmp_path / "server", database_url=cluster.url, db_pool_timeout=3.0
    )
    server = RunningServer(settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Ledger:
    """Every command sent per client, to check that each got exactly one reply."""

    def __init__(self) -> None:
        self.sent: dict[GameClient, list[str]] = collections.defaultdict(list)

    async def command(self, client: GameClient, text: str) -> dict[str, Any]:
        frame_id = await client.send_command(text)
        self.sent[client].append(frame_id)
        return await client.wait_for(
            lambda f: f.get("type") == "reply" and f.get("re") == frame_id, 10.0
        )

    async def all(self, clients: list[GameClient], text: str) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self.command(c, text) for c in clients)))

    async def until_ok(self, client: GameClient, text: str) -> None:
        """Repeat ``text`` until it succeeds (the caller bounds the wait)."""
        while True:
            if (await self.command(client, text))["ok"]:
                return
            await asyncio.sleep(0.2)

    async def check_exactly_one_reply_each(self) -> None:
        for client, ids in self.sent.items():
            await client.sync()
            replies = collections.Counter(
                f["re"] for f in client.received if f.get("type") == "reply"
            )
            assert replies == collections.Counter(ids), client.name


def outcome(reply: dict[str, Any]) -> tuple[bool, str]:
    return reply["ok"], reply["text"]


async def stored_world(url: str) -> tuple[list[Any], list[Any]]:
    """Where every item is, and every character's lasting state, read from the database."""
    engine = create_async_engine(url)
    items = "SELECT id, owner_player_id, container_id, room_id FROM item_instances ORDER BY id"
    players = "SELECT id, health, lucidity, experience, level FROM players ORDER BY id"
    try:
        async with engine.connect() as conn:
            return (
                [tuple(r) for r in await conn.execute(sa.text(items))],
                [tuple(r) for r in await conn.execute(sa.text(players))],
            )
    finally:
        await engine.dispose()


async def refused_hello(server: RunningServer, character: Character) -> tuple[dict[str, Any], Any]:
    client = await GameClient.open(server.ws_url, character.name)
    try:
        hello = {"type": "hello", "token": character.token, "player": character.name}
        await client.send_json(hello)
        frame = await client.wait_type("error")
        closed = await client.wait_closed()
    finally:
        with contextlib.suppress(Exception):
            await client.close()
    return frame, closed[0]


@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
async def test_a_database_outage_is_survived_and_nothing_committed_is_lost(
    stop_mode: str,
    cluster: PrivateCluster,
    outage_server: RunningServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = outage_server
    api = Api.to(server.base_url)
    ledger = Ledger()
    clients: list[GameClient] = []
    try:
        api.admin = await create_account(api, "keeper")
        characters = [await create_character(api) for _ in range(PLAYERS + 1)]
        spare = characters.pop()  # enters only during and after the outage
        for character in characters:
            client = await GameClient.open(server.ws_url, character.name)
            await client.hello(character.token, character.name)
            clients.append(client)

        # Committed before the outage: the first player picks up the poker.
        assert outcome(await ledger.command(clients[0], f"get {POKER}"))[0]
        await ledger.all(clients, "look")  # the room is described (and cached) again
        before = await stored_world(cluster.url)

        with capture_logs() as logs:
            # Players keep typing while the database stops under them: one reply each.
            stopping = asyncio.create_task(cluster.stop(stop_mode))
            racing = await ledger.all(clients, "inventory")
            await stopping
            assert all(r["ok"] or r["text"] == WAVERS for r in racing), racing
            down_since = time.monotonic()

            while time.monotonic() - down_since < OUTAGE_SECONDS:
                for reply in await ledger.all(clients, "inventory"):
                    assert reply == {**reply, "type": "reply", "ok": False, "text": WAVERS}
                    assert set(reply) == {"type", "seq", "re", "ok", "text"}
                for reply in await ledger.all(clients, "who"):
                    assert reply["ok"] and all(c.name in reply["text"] for c in characters)
                said = await ledger.command(clients[1], "say The lamps gutter.")
                assert said["ok"]
                heard = await clients[2].wait_message("say")
                assert "The lamps gutter." in heard["text"]
                for text in ("emote shivers", "help", "look"):
                    assert (await ledger.command(clients[3], text))["ok"], text

                assert (await api.http.get("/api/monitoring/health")).status_code == 200
                ready = await api.http.get("/api/monitoring/ready")
                assert ready.status_code == 503
                login = await api.http.post(
                    "/api/auth/login", data={"username": api.admin.username, "password": PASSWORD}
                )
                assert login.status_code == 503
                assert login.json() == {"detail": UNAVAILABLE}
                assert int(login.headers["retry-after"]) > 0
                frame, close_code = await refused_hello(server, spare)
                assert frame == {
                    "type": "error",
                    "seq": 1,
                    "code": "unavailable",
                    "text": UNAVAILABLE,
                }
                assert close_code == 1013
                metrics = (await api.http.get("/metrics")).text
                assert "kadath_database_up 0.0" in metrics
                await asyncio.sleep(1.0)

            await cluster.start()
            back_at = time.monotonic()
            async with asyncio.timeout(RECOVERY_BOUND):
                await asyncio.gather(*(ledger.until_ok(c, "inventory") for c in clients))
            recovered_in = time.monotonic() - back_at

        assert server.running
        assert (await api.http.get("/api/monitoring/ready")).status_code == 200
        token = await api.login(api.admin.username)
        assert token
        late = await GameClient.open(server.ws_url, spare.name)
        clients.append(late)
        await late.hello(spare.token, spare.name)
        assert (await ledger.command(late, "say I am back."))["ok"]

        inventory = await ledger.command(clients[0], "inventory")
        assert POKER in inventory["text"], inventory
        assert await stored_world(cluster.url) == before
        await ledger.check_exactly_one_reply_each()

        metrics = (await api.http.get("/metrics")).text
        assert "kadath_database_up 1.0" in metrics
        outages = [e for e in logs if e["event"] == "database_unavailable"]
        recoveries = [e for e in logs if e["event"] == "database_recovered"]
        assert 1 <= len(outages) == len(recoveries) <= 2, [e["event"] for e in logs]
        assert f"kadath_database_outages_total {float(len(outages))}" in metrics
        edges = {"database_unavailable", "database_recovered"}
        loud = [e["event"] for e in logs if e["log_level"] != "debug" and e["event"] not in edges]
        assert collections.Counter(loud) == {}, "an outage is logged once, not per failure"
        tracebacks = [(e["event"], e.get("step")) for e in logs if e.get("exc_info")]
        tracebacks += [(r.name, r.getMessage()[:80]) for r in caplog.records if r.exc_info]
        assert tracebacks == [], "an outage is logged once, not as a traceback per failure"
        print(f"recovered {recovered_in:.2f}s after the database came back")
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        await api.aclose()
