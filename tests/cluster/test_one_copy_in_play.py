"""One copy of a character in play across ``kadath serve --cluster`` processes (docs/scaling.md,
"One copy of a character in play"): a character in play on one process (linkdead) whose stored
room is in a zone another process holds (as after a death whose respawn room is in another
zone, or after its zone moved while it was linkdead) reconnects to that other process, which
loads it; the first process's copy leaves play at once, and its save is refused: what the
second stored stands."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa
from kadath_cluster import (
    LEASE_SECONDS,
    PG_URL,
    RENEW_SECONDS,
    SLACK_SECONDS,
    ServeProcess,
    cluster_config,
    eventually,
    migrated_database,
    private_nats,
)
from kadath_serve import (
    START_ZONE,
    WAIT,
    WORLD,
    ZONES,
    Client,
    Frame,
    new_character,
    starting_cluster,
    stored_room,
)

from kadath.cluster.zones import pin, zone_statuses
from kadath.persistence.engine import create_engine

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.fault,
    pytest.mark.skipif(not PG_URL, reason="KADATH_TEST_POSTGRES_URL is not set"),
]
ACROSS_ROOM = "miskatonic.campus_gate"  # a room of a zone alpha holds
GRACE = 15.0  # long enough for the reconnect below on a loaded machine


async def store_room(database_url: str, name: str, room: str) -> None:
    """Write the character's stored room behind the game's back, as a death's respawn does."""
    database = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with database.begin() as conn:
            await conn.execute(
                sa.text("UPDATE players SET room_id = :room WHERE name = :name"),
                {"room": room, "name": name},
            )
    finally:
        await database.dispose()


def left(name: str) -> object:
    def wanted(frame: Frame) -> bool:
        return (
            frame.get("type") == "event"
            and frame.get("event") == "left"
            and (frame.get("name") == name)
        )

    return wanted


async def test_a_second_copy_loaded_elsewhere_retires_the_first_and_its_save_is_refused(
    tmp_path: Path,
) -> None:
    """Mover and Watcher play on beta (the start zone's holder). Mover's connection drops: its
    character stays in play on beta, linkdead. Its stored room is then written in alpha's zone
    (as a cross-zone respawn writes it). Mover reconnects to alpha, which loads it there, and
    quits (alpha saves it there). Watcher sees Mover's first copy fade from the start room once
    (at once, not after the grace), and the stored room stays the one alpha saved: the stale
    copy's save on leaving is refused."""
    assert WORLD.rooms[ACROSS_ROOM].zone_id != START_ZONE
    assert PG_URL is not None
    grace = {"KADATH_RECONNECT_GRACE_SECONDS": str(GRACE)}
    async with (
        migrated_database(PG_URL) as database_url,
        private_nats(tmp_path) as nats,
        starting_cluster(database_url, nats.url, tmp_path, **grace) as cluster,
    ):
        (token_m, mover), (token_w, watcher) = [await new_character(cluster.http) for _ in "mw"]
        clients: list[Client] = []
        try:
            on_beta_w, on_beta_m = [await Client.open(cluster.beta.ws_url) for _ in "wm"]
            clients += [on_beta_w, on_beta_m]
            assert (await on_beta_w.hello(token_w, watcher))["type"] == "welcome"
            welcome = await on_beta_m.hello(token_m, mover)
            assert welcome["type"] == "welcome", welcome
            assert welcome["room"]["id"] == WORLD.start_room_id
            await on_beta_m.ws.close()  # dropped: linkdead on beta for the grace

            await store_room(database_url, mover, ACROSS_ROOM)
            on_alpha_m = await Client.open(cluster.alpha.ws_url)
            clients.append(on_alpha_m)
            welcome = await on_alpha_m.hello(token_m, mover)
            assert welcome["type"] == "welcome", welcome
            assert welcome["room"]["id"] == ACROSS_ROOM  # loaded on alpha, where it is stored
            assert (await on_alpha_m.command("quit"))["ok"] is True
            await on_alpha_m.closed()
            assert await stored_room(database_url, mover) == ACROSS_ROOM

            # Beta's copy leaves play (today: once its grace ends).
            await on_beta_w.wait_for(left(mover), GRACE + 2 * SLACK_SECONDS)
            await asyncio.sleep(2.0)  # a save on leaving would be stored by now
            assert await stored_room(database_url, mover) == ACROSS_ROOM
            looked = await on_beta_w.command("look")
            assert looked["ok"] is True
            view = [f for f in on_beta_w.received if f.get("type") == "room"][-1]["room"]
            assert mover not in view["players"], view
            assert len([f for f in on_beta_w.received if left(mover)(f)]) == 1  # type: ignore[operator]
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.ws.close()
        assert cluster.beta.events("player_claimed_elsewhere")


async def players_online(process: ServeProcess) -> int:
    async with httpx2.AsyncClient(timeout=WAIT, trust_env=False) as http:
        text = (await http.get(f"{process.base_url}/metrics")).text
    for line in text.splitlines():
        if line.startswith("kadath_players_online "):
            return int(float(line.split()[1]))
    raise AssertionError(f"no kadath_players_online in {text!r}")


async def test_a_zone_moved_while_its_player_is_linkdead_leaves_one_copy_in_play(
    tmp_path: Path,
) -> None:
    """Mover plays on beta (the start zone's holder) and drops: linkdead on beta. The start zone
    is pinned to alpha, which takes it. Mover reconnects to alpha, which loads it: beta's copy
    leaves play at once (long before its grace ends), and Mover plays on at alpha."""
    assert PG_URL is not None
    grace = {"KADATH_RECONNECT_GRACE_SECONDS": "300"}
    async with (
        migrated_database(PG_URL) as database_url,
        private_nats(tmp_path) as nats,
        starting_cluster(database_url, nats.url, tmp_path, **grace) as cluster,
    ):
        config = cluster_config(database_url, nats.url, "test")
        token, mover = await new_character(cluster.http)
        clients: list[Client] = []
        try:
            on_beta = await Client.open(cluster.beta.ws_url)
            clients.append(on_beta)
            assert (await on_beta.hello(token, mover))["type"] == "welcome"
            await on_beta.ws.close()  # linkdead on beta
            assert await players_online(cluster.beta) == 1

            await pin(config, ZONES, START_ZONE, "alpha")

            async def alpha_holds_it() -> bool:
                statuses = {s.zone: s for s in await zone_statuses(config, ZONES)}
                status = statuses[START_ZONE]
                return status.owner == status.recorded_owner == "alpha"

            moved_within = LEASE_SECONDS + 2 * RENEW_SECONDS + SLACK_SECONDS
            await eventually(alpha_holds_it, moved_within, "alpha holds the start zone")
            assert await players_online(cluster.beta) == 1  # still linkdead there

            on_alpha = await Client.open(cluster.alpha.ws_url)
            clients.append(on_alpha)
            welcome = await on_alpha.hello(token, mover)
            assert welcome["type"] == "welcome", welcome
            assert welcome["room"]["id"] == WORLD.start_room_id

            async def beta_let_go() -> bool:
                return await players_online(cluster.beta) == 0

            await eventually(beta_let_go, SLACK_SECONDS, "beta's copy leaves play")
            said = await on_alpha.command("say Here, once.")
            assert said["ok"] is True, said
            assert await players_online(cluster.alpha) == 1
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.ws.close()
        assert cluster.beta.events("player_claimed_elsewhere")
