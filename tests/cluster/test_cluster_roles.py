"""``kadath gateway`` and ``kadath engine`` as real subprocesses: two gateways (which hold no
zone, even when nobody holds one) and one engine (which holds every zone and has no listener).
A player signed in on a gateway plays, served by the engine through a tunnel; players on
different gateways in one room hear each other; ``kadath zones`` names the engine only. SQLite
or no NATS: both commands exit 2."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kadath_cluster import (
    PG_URL,
    SERVE_ENV,
    SLACK_SECONDS,
    EngineProcess,
    ServeProcess,
    cluster_config,
    eventually,
    free_port,
    gateway,
    holding_every_zone,
    migrated_database,
    private_nats,
)
from kadath_serve import (
    WORLD,
    ZONES,
    Client,
    heard_on,
    in_play,
    new_character,
    rest,
    stored_room,
    walk,
)

from kadath.cluster.zones import pin, zone_statuses
from kadath.realtime.protocol import CLOSE_RESTART

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
ACROSS_ROOM = "miskatonic.campus_gate"  # east, then north, from the start room: another zone
ACROSS_ZONE = WORLD.rooms[ACROSS_ROOM].zone_id
START_SECONDS = 90.0


@dataclass
class Roles:
    gateways: tuple[ServeProcess, ServeProcess]
    engine: EngineProcess
    nats_url: str
    database_url: str


@pytest.fixture(scope="module")
async def roles(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Roles]:
    root = tmp_path_factory.mktemp("roles")
    async with private_nats(root) as nats:
        config = cluster_config(database_url, nats.url, "observer")
        first = gateway("gw-1", database_url, nats.url, root)
        second = gateway("gw-2", database_url, nats.url, root)
        engine = EngineProcess("engine-1", database_url, nats.url, root)
        try:
            # It seeds the world. A holding node takes the free zones before it listens;
            # the gateway took none.
            await first.start(START_SECONDS)
            statuses = await zone_statuses(config, ZONES)
            assert all(s.owner is None for s in statuses), statuses  # it took none

            await engine.start()
            await holding_every_zone(engine, config, ZONES, START_SECONDS)
            await eventually(
                lambda: _logged(engine, "engine_started"), SLACK_SECONDS, "engine_started"
            )
            await second.start(START_SECONDS)
            yield Roles((first, second), engine, nats.url, database_url)
        finally:
            for process in (first, second, engine):
                await process.close()


async def _logged(process: EngineProcess, event: str) -> bool:
    return bool(process.events(event))


async def test_a_player_on_a_gateway_is_served_by_the_engine(roles: Roles) -> None:
    gw = roles.gateways[0]
    async with rest(gw.base_url) as http:
        token, name = await new_character(http)  # sign-up and sign-in on the gateway
    client = await Client.open(gw.ws_url)
    try:
        welcome = await client.hello(token, name)
        assert welcome["type"] == "welcome", welcome
        assert welcome["room"]["id"] == WORLD.start_room_id
        assert (await client.command("look"))["ok"] is True
        said = await client.command("say Ph'nglui mglw'nafh.")
        assert said == {**said, "ok": True, "text": "You say, \"Ph'nglui mglw'nafh.\""}
        for step in ("east", "north", "look"):
            assert (await client.command(step))["ok"] is True
        await client.wait_for(lambda f: f.get("type") == "room" and f["room"]["id"] == ACROSS_ROOM)
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()
    relayed = {e["tunnel"] for e in gw.events("tunnel_relayed")}
    opened = {e["tunnel"] for e in roles.engine.events("tunnel_opened")}
    assert relayed and relayed <= opened
    assert not gw.events("zone_acquired")
    assert not gw.events("tunnel_opened")  # nobody is ever served on a gateway


def test_kadath_zones_shows_the_engine_holding_every_zone_and_no_gateway(roles: Roles) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    env.update(KADATH_DATABASE_URL=roles.database_url, KADATH_NATS_URL=roles.nats_url)
    done = subprocess.run(
        [sys.executable, "-m", "kadath", "zones"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    assert sorted(row[0] for row in rows) == ZONES
    assert all(row[1] == "engine-1" and row[3] == "engine-1" for row in rows), done.stdout
    assert "gw-" not in done.stdout


async def test_players_on_different_gateways_in_one_room_hear_each_other(roles: Roles) -> None:
    first, second = roles.gateways
    async with (
        rest(first.base_url) as http,
        in_play(http, first.ws_url, second.ws_url) as played,
    ):
        [(on_first, name_a), (on_second, name_b)] = played
        assert (await on_first.command("say Hello from the first gateway."))["ok"] is True
        heard = await on_second.wait_for(heard_on("say"))
        assert heard["text"] == f'{name_a} says, "Hello from the first gateway."'
        assert (await on_second.command("say And from the second."))["ok"] is True
        heard = await on_first.wait_for(heard_on("say"))
        assert heard["text"] == f'{name_b} says, "And from the second."'
        for client in (on_first, on_second):
            assert client.seqs == list(range(1, len(client.seqs) + 1))


@pytest.mark.parametrize("command", [["gateway", "--port", "0"], ["engine"]], ids=str)
@pytest.mark.parametrize(
    "settings",
    [
        {"KADATH_DATABASE_URL": "sqlite+aiosqlite:///{dir}/kadath.db", "KADATH_NATS_URL": "x"},
        {"KADATH_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
    ],
    ids=["sqlite", "no-nats"],
)
def test_gateway_and_engine_are_refused_without_postgresql_and_nats(
    command: list[str], settings: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    env.update(SERVE_ENV)
    env["KADATH_DATA_DIR"] = str(tmp_path)
    env.update({k: v.format(dir=tmp_path) for k, v in settings.items()})
    done = subprocess.run(
        [sys.executable, "-m", "kadath", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"kadath {command[0]}: a cluster needs PostgreSQL and NATS" in done.stderr
    assert not (tmp_path / "kadath.db").exists()  # refused before anything was opened


async def test_an_engine_that_cannot_reach_nats_exits_1_after_closing_the_game(
    database_url: str, tmp_path: Path
) -> None:
    """NATS is reached after the game's runtime is up: the failure still ends in exit 1."""
    engine = EngineProcess("no-nats", database_url, f"nats://127.0.0.1:{free_port()}", tmp_path)
    await engine.start()
    assert await engine.wait(START_SECONDS) == 1
    assert "cannot reach NATS" in engine.log_path.read_text(errors="replace")


@pytest.fixture
async def two_engines(database_url: str, tmp_path: Path) -> AsyncIterator[Roles]:
    """One gateway; engine-2 holds the zone across the start room's border (pinned), engine-1
    every other zone (pinned). A database of its own: the module's cluster (``roles``) may still
    run, and two clusters (two NATS servers) on one database fence each other off."""
    assert PG_URL is not None  # database_url skips the test otherwise
    async with migrated_database(PG_URL) as database_url, private_nats(tmp_path) as nats:
        config = cluster_config(database_url, nats.url, "observer")
        owner = {z: "engine-2" if z == ACROSS_ZONE else "engine-1" for z in ZONES}
        for zone, engine_id in owner.items():
            await pin(config, ZONES, zone, engine_id)
        engines = [
            EngineProcess(e, database_url, nats.url, tmp_path) for e in ("engine-1", "engine-2")
        ]
        gw = gateway("gw", database_url, nats.url, tmp_path)
        try:
            for engine in engines:
                await engine.start()

            async def as_pinned() -> bool:
                statuses = await zone_statuses(config, ZONES)
                return all(s.owner == s.recorded_owner == owner[s.zone] for s in statuses)

            await eventually(as_pinned, START_SECONDS, "each engine holds its pinned zones")
            await gw.start(START_SECONDS)
            yield Roles((gw, gw), engines[0], nats.url, database_url)
        finally:
            for process in (gw, *engines):
                await process.close()


async def test_a_gateway_player_walking_between_engines_is_handed_over(
    two_engines: Roles,
) -> None:
    """Both walk from engine-1's start zone into engine-2's zone through the one gateway, hear
    each other there; the mover walks back. One welcome, gap-free seq throughout."""
    gw = two_engines.gateways[0]
    async with rest(gw.base_url) as http, in_play(http, gw.ws_url, gw.ws_url) as played:
        [(watcher, _), (mover, name_m)] = played
        for client in (watcher, mover):
            await walk(client, "east", "north", ACROSS_ROOM)
        assert (await mover.command("say Across the border."))["ok"] is True
        heard = await watcher.wait_for(heard_on("say"))
        assert heard["text"] == f'{name_m} says, "Across the border."'
        await walk(mover, "south", "look", "arkham.garrison_street")
        for client in (mover, watcher):
            assert client.seqs == list(range(1, len(client.seqs) + 1))
            assert [f["type"] for f in client.received].count("welcome") == 1
    engine_1 = two_engines.engine
    handed = [e["zone"] for e in engine_1.events("player_handed_over")]
    assert handed.count(ACROSS_ZONE) == 2, handed
    assert not gw.events("player_handed_over")  # nobody is in play on the gateway


async def test_sigterm_to_an_engine_saves_and_closes_its_gateway_players_and_releases(
    two_engines: Roles,
) -> None:
    """An engine stopped with a player on a gateway: the player is saved where it stood and
    told (shutdown), the gateway closes its connection 1012; the engine exits 0, its zones
    released. (No graceful hand-over to another engine: the client reconnects.)"""
    gw, engine = two_engines.gateways[0], two_engines.engine
    async with rest(gw.base_url) as http:
        token, name = await new_character(http)
    client = await Client.open(gw.ws_url)
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        assert (await client.command("east"))["ok"] is True
        engine.signal(signal.SIGTERM)
        assert await client.closed() == CLOSE_RESTART
    finally:
        with contextlib.suppress(Exception):
            await client.ws.close()
    assert [f["event"] for f in client.received if f.get("type") == "event"][-1:] == ["shutdown"]
    assert await engine.wait(START_SECONDS) == 0
    held = {z for z in ZONES if z != ACROSS_ZONE}
    assert {e["zone"] for e in engine.events("zone_released")} == held
    config = cluster_config(two_engines.database_url, two_engines.nats_url, "observer")
    statuses = await zone_statuses(config, ZONES)
    assert all(s.owner is None for s in statuses if s.zone in held), statuses
    walked_to = [f["room"]["id"] for f in client.received if f.get("type") == "room"][-1]
    assert walked_to != WORLD.start_room_id
    assert await stored_room(two_engines.database_url, name) == walked_to


async def test_a_channel_line_reaches_players_of_both_engines_through_one_gateway(
    two_engines: Roles,
) -> None:
    """``stay`` is served by engine-1 (the start zone), ``away`` by engine-2: each reads the
    other's ``ooc`` line once, and ``history`` on both engines shows both lines."""
    gw = two_engines.gateways[0]
    async with rest(gw.base_url) as http, in_play(http, gw.ws_url, gw.ws_url) as played:
        [(stay, name_s), (away, name_a)] = played
        lines = {stay: "Is the gate open?", away: "It is open."}
        await walk(away, "east", "north", ACROSS_ROOM)
        for speaker in (stay, away):
            assert (await speaker.command(f"ooc {lines[speaker]}"))["ok"] is True
            for client in (stay, away):
                await client.wait_for(
                    lambda f, t=lines[speaker]: f.get("type") == "channel" and f["text"] == t
                )
        for client in (stay, away):
            history = str((await client.command("history ooc 5"))["text"]).splitlines()
            assert len(history) == 2, history
            assert history[0].endswith(f"[ooc] {name_s}: Is the gate open?"), history
            assert history[1].endswith(f"[ooc] {name_a}: It is open."), history
            texts = [f["text"] for f in client.received if f.get("type") == "channel"]
            assert sorted(texts) == sorted(lines.values()), texts
    assert two_engines.engine.events("player_handed_over")  # away moved to engine-2
