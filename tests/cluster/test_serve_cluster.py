"""``kadath serve --cluster`` as real subprocesses sharing one world: a connection is served by
the process holding the character's zone, relayed over a NATS tunnel when the client is
connected to the other; players on different processes hear each other; seq has no gaps. The
SQLite/no-NATS refusal too."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kadath_cluster import SERVE_ENV, ServeProcess
from kadath_serve import (
    START_ZONE,
    WAIT,
    WORLD,
    Client,
    Cluster,
    heard_on,
    in_play,
    new_character,
    walk,
)

# The telnet tests' raw MUD client (tests/telnet/kadath_telnet.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "telnet"))
from kadath_telnet import TelnetClient, sign_up

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
# east, then north, from the start room: the first room of another zone (held by alpha).
ACROSS_ROOM = "miskatonic.campus_gate"
ACROSS_ZONE = WORLD.rooms[ACROSS_ROOM].zone_id


async def test_a_client_of_the_process_not_holding_its_zone_is_served_by_the_holder(
    serve_cluster: Cluster,
) -> None:
    cluster = serve_cluster
    token, name = await new_character(cluster.http)
    before = tunnels(cluster.alpha, "tunnel_relayed")
    client = await Client.open(cluster.alpha.ws_url)
    try:
        welcome = await client.hello(token, name)
        assert welcome["type"] == "welcome", welcome
        assert welcome["room"]["id"] == WORLD.start_room_id
        look = await client.command("look")
        assert look["ok"] is True
        said = await client.command("say The stars are right.")
        assert said == {**said, "ok": True, "text": 'You say, "The stars are right."'}
        await client.ws.send(json.dumps({"type": "ping"}))
        await client.wait_for(lambda f: f.get("type") == "pong")
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()
    # Served by beta, through a tunnel that alpha opened.
    relayed = tunnels(cluster.alpha, "tunnel_relayed") - before
    assert len(relayed) == 1
    assert relayed <= tunnels(cluster.beta, "tunnel_opened", zone=START_ZONE)


def tunnels(process: ServeProcess, event: str, zone: str | None = None) -> set[str]:
    """The tunnels ``process`` logged ``event`` for (in ``zone``)."""
    return {e["tunnel"] for e in process.events(event) if zone is None or e["zone"] == zone}


async def test_players_connected_to_different_processes_hear_each_other(
    serve_cluster: Cluster,
) -> None:
    cluster = serve_cluster
    async with in_play(cluster.http, cluster.alpha.ws_url, cluster.beta.ws_url) as played:
        [(on_alpha, name_a), (on_beta, name_b)] = played
        assert (await on_alpha.command("say Hello from alpha."))["ok"] is True
        heard = await on_beta.wait_for(heard_on("say"))
        assert heard["text"] == f'{name_a} says, "Hello from alpha."'
        assert (await on_beta.command("say Hello from beta."))["ok"] is True
        heard = await on_alpha.wait_for(heard_on("say"))
        assert heard["text"] == f'{name_b} says, "Hello from beta."'
        for client in (on_alpha, on_beta):
            assert client.seqs == list(range(1, len(client.seqs) + 1))


@pytest.mark.parametrize(
    "settings",
    [
        {"KADATH_DATABASE_URL": "sqlite+aiosqlite:///{dir}/kadath.db", "KADATH_NATS_URL": "x"},
        {"KADATH_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
    ],
    ids=["sqlite", "no-nats"],
)
def test_serve_cluster_is_refused_without_postgresql_and_nats(
    settings: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    env.update(SERVE_ENV)
    env["KADATH_DATA_DIR"] = str(tmp_path)
    env.update({k: v.format(dir=tmp_path) for k, v in settings.items()})
    done = subprocess.run(
        [sys.executable, "-m", "kadath", "serve", "--cluster", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "a cluster needs PostgreSQL and NATS" in done.stderr
    assert not (tmp_path / "kadath.db").exists()  # refused before anything was opened


async def test_walking_into_a_zone_held_elsewhere_hands_the_player_over(
    serve_cluster: Cluster,
) -> None:
    """Both characters start in beta's zone. The watcher connects to alpha (relayed to beta),
    the mover to beta (served there); walking into a zone alpha holds hands each over to alpha
    (the watcher's relay serves it locally, the mover's process relays it), where they hear
    each other; the mover walks back and is beta's again. Commands sent right behind a move
    are served (by the new holder), seq runs on without a gap, the client is greeted once."""
    cluster = serve_cluster
    seen = len(cluster.beta.events("player_handed_over"))  # other tests' hand-overs
    async with in_play(cluster.http, cluster.alpha.ws_url, cluster.beta.ws_url) as played:
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
    handed = [(e["zone"]) for e in cluster.beta.events("player_handed_over")[seen:]]
    assert handed.count(ACROSS_ZONE) == 2, handed
    assert cluster.alpha.events("player_handed_over"), "the mover's walk back"


async def test_a_relayed_client_that_asks_for_batches_gets_them(serve_cluster: Cluster) -> None:
    """The hello's ``batch`` reaches the holder, and its answer (use batches) the relay."""
    token, name = await new_character(serve_cluster.http)
    client = await Client.open(serve_cluster.alpha.ws_url)
    try:
        hello = {"type": "hello", "token": token, "player": name, "batch": True}
        await client.ws.send(json.dumps(hello))
        async with asyncio.timeout(WAIT):
            first = json.loads(await client.ws.recv())
        assert isinstance(first, list), first
        assert first[0]["type"] == "welcome" and first[0]["seq"] == 1, first
    finally:
        await client.ws.close()


async def test_a_telnet_player_is_relayed_like_a_websocket_one(serve_cluster: Cluster) -> None:
    """A MUD client signs up on alpha's telnet port; its character starts in beta's zone, so
    its session runs on beta, rendered as text by alpha: it is welcomed, and its ``say`` is
    heard by a WebSocket player on beta."""
    cluster = serve_cluster
    token, name = await new_character(cluster.http)
    listener = await Client.open(cluster.beta.ws_url)
    before = tunnels(cluster.alpha, "tunnel_relayed")
    telnet = await TelnetClient.open(cluster.alpha.telnet_port)
    try:
        assert (await listener.hello(token, name))["type"] == "welcome"
        letters = "".join(chr(97 + b % 26) for b in uuid.uuid4().bytes[:9])
        async with asyncio.timeout(WAIT * 2):
            await sign_up(telnet, "t" + letters, "correct horse battery", "T" + letters)
        telnet.line("say Over the wire.")
        heard = await listener.wait_for(heard_on("say"))
        assert heard["text"] == f'T{letters} says, "Over the wire."'
        await telnet.until("You say", within=WAIT)
    finally:
        await telnet.close()
        await listener.ws.close()
    assert tunnels(cluster.alpha, "tunnel_relayed") - before


async def test_who_and_whisper_reach_the_players_of_the_other_process(
    serve_cluster: Cluster,
) -> None:
    """``here`` is served by beta (the start zone), ``there`` by alpha (it walks into alpha's
    zone): each is listed by ``who`` on either process and whispers the other, and an ignore
    held on the listener's process refuses the speaker's whisper."""
    cluster = serve_cluster
    async with in_play(cluster.http, cluster.beta.ws_url, cluster.alpha.ws_url) as played:
        [(here, name_h), (there, name_t)] = played
        await walk(there, "east", "north", ACROSS_ROOM)
        for client in (here, there):
            who = await client.command("who")
            assert who["ok"] is True
            listed = {line.split()[0] for line in who["text"].splitlines()[1:]}
            assert {name_h, name_t} <= listed, who["text"]
            assert "did not answer" not in who["text"]

        for speaker, listener, name_s, name_l in (
            (there, here, name_t, name_h),
            (here, there, name_h, name_t),
        ):
            reply = await speaker.command(f"whisper {name_l} Beyond the wall of sleep.")
            assert reply == {
                **reply,
                "ok": True,
                "text": f'You whisper to {name_l}, "Beyond the wall of sleep."',
            }
            heard = await listener.wait_for(heard_on("whisper"))
            assert heard["text"] == f'{name_s} whispers to you, "Beyond the wall of sleep."'

        nobody = await there.command("whisper Nyarlathotep hello")
        assert nobody["ok"] is False and "Nobody called" in nobody["text"], nobody
        assert (await here.command(f"ignore {name_t}"))["ok"] is True
        refused = await there.command(f"whisper {name_h} Are you there?")
        assert refused == {**refused, "ok": False, "text": f"{name_h} is not listening to you."}
        for client in (here, there):
            assert client.seqs == list(range(1, len(client.seqs) + 1))


async def test_a_broadcast_reaches_the_players_of_every_process(
    serve_cluster: Cluster, database_url: str
) -> None:
    """An admin served by beta broadcasts; a player served by alpha reads it."""
    cluster = serve_cluster
    urls = (cluster.beta.ws_url, cluster.alpha.ws_url)
    async with in_play(cluster.http, *urls, admin_in=database_url) as played:
        [(admin, _), (player, _)] = played
        await walk(player, "east", "north", ACROSS_ROOM)
        assert (await admin.command("broadcast The gate opens."))["ok"] is True
        heard = await player.wait_for(heard_on("broadcast"))
        assert heard["text"] == "[Broadcast] The gate opens."
