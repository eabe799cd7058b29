"""A ``kadath gateway`` killed (SIGKILL: no goodbye on its tunnels) with players on it: the
engine serving them hears their tunnels fall silent within a lease and treats each as a dropped
connection (the reconnect grace). A player who reconnects through the other gateway within the
grace resumes its character in place (no second character, no arrival seen, what it carried and
where it stood intact); one who does not come back leaves play after the grace and is saved.
``who`` lists every character once throughout. The same for a relaying ``serve --cluster``
process killed: its relayed player resumes on the process holding its zone. Each test has a
cluster of its own (2 gateways and 1 engine, or 2 ``serve --cluster``): it kills a process."""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from kadath_cluster import (
    LEASE_SECONDS,
    PG_URL,
    RENEW_SECONDS,
    SLACK_SECONDS,
    EngineProcess,
    ServeProcess,
    cluster_config,
    eventually,
    gateway,
    holding_every_zone,
    migrated_database,
    private_nats,
)
from kadath_serve import (
    WORLD,
    ZONES,
    Client,
    Frame,
    heard_on,
    in_play,
    new_character,
    rest,
    starting_cluster,
)

from kadath.persistence.engine import create_engine

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.fault,
    pytest.mark.skipif(not PG_URL, reason="KADATH_TEST_POSTGRES_URL is not set"),
]
START_SECONDS = 90.0
NEXT_ROOM = WORLD.rooms[WORLD.start_room_id].exits
DIRECTION = next(iter(NEXT_ROOM))  # out of the start room: the players walk there
THERE = NEXT_ROOM[DIRECTION]
# From the kill: the engine hears a tunnel's silence after a lease (checked every renewal
# period), plus slack for a loaded machine.
NOTICED_WITHIN = LEASE_SECONDS + 2 * RENEW_SECONDS + SLACK_SECONDS


class Cluster:
    def __init__(self, a: ServeProcess, b: ServeProcess, engine: EngineProcess, db: str) -> None:
        self.a, self.b, self.engine, self.database_url = a, b, engine, db


@contextlib.asynccontextmanager
async def gateways_and_engine(tmp_path: Path, grace: float) -> AsyncIterator[Cluster]:
    """``gw-a`` and ``gw-b`` (``kadath gateway``) and ``engine-1`` holding every zone, on a
    database and NATS server of their own; the engine keeps a dropped character ``grace``
    seconds."""
    assert PG_URL is not None
    async with migrated_database(PG_URL) as database_url, private_nats(tmp_path) as nats:
        config = cluster_config(database_url, nats.url, "observer")
        engine = EngineProcess("engine-1", database_url, nats.url, tmp_path)
        engine.env["KADATH_RECONNECT_GRACE_SECONDS"] = str(grace)
        gateways = [gateway(name, database_url, nats.url, tmp_path) for name in ("gw-a", "gw-b")]
        try:
            await gateways[0].start(START_SECONDS)  # seeds the world
            await engine.start()
            await holding_every_zone(engine, config, ZONES, START_SECONDS)
            await gateways[1].start(START_SECONDS)
            yield Cluster(gateways[0], gateways[1], engine, database_url)
        finally:
            for process in (*gateways, engine):
                await process.close()


def names_in_who(reply: Frame) -> list[str]:
    assert reply["ok"] is True, reply
    return re.findall(r"\b(C[a-z]{9})\b", str(reply["text"]))


def events_naming(client: Client, name: str) -> list[Frame]:
    return [f for f in client.received if f.get("type") == "event" and f.get("name") == name]


async def stored(database_url: str, name: str) -> tuple[str, list[str]]:
    """The character's stored room and the names of the items it carries."""
    database = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with database.connect() as conn:
            player_id, room_id = (
                await conn.execute(
                    sa.text("SELECT id, room_id FROM players WHERE name = :name"), {"name": name}
                )
            ).one()
            carried = await conn.scalars(
                sa.text("SELECT prototype_id FROM item_instances WHERE owner_player_id = :id"),
                {"id": player_id},
            )
            return str(room_id), [str(item) for item in carried]
    finally:
        await database.dispose()


async def resumed(
    url: str, token: str, name: str, room: str, beside: str, clients: list[Client]
) -> Client:
    """``name`` reconnected through ``url`` with its token (the client added to ``clients``):
    welcomed in ``room`` beside ``beside``, carrying the poker."""
    again = await Client.open(url)
    clients.append(again)
    welcome = await again.hello(token, name)
    assert welcome["type"] == "welcome", welcome
    assert welcome["room"]["id"] == room
    assert beside in welcome["room"]["players"]
    carried = await again.command("inventory")
    assert carried["ok"] is True and "poker" in carried["text"], carried
    return again


async def follow_with_the_poker(mover: Client, watcher: Client, name: str) -> None:
    """Watcher walks out of the start room; Mover (``name``) takes the poker and follows:
    Watcher sees it arrive."""
    assert (await watcher.command(DIRECTION.value))["ok"] is True
    assert (await mover.command("get poker"))["ok"] is True
    assert (await mover.command(DIRECTION.value))["ok"] is True
    await watcher.wait_for(lambda f: f.get("event") == "arrived" and f.get("name") == name)


async def test_players_of_a_killed_gateway_resume_on_the_other(tmp_path: Path) -> None:
    """Mover (on gw-a) takes the poker and walks east; Quick (on gw-a) and Watcher (on gw-b)
    walk east too. gw-a is killed. Quick reconnects through gw-b at once (before the engine can
    have noticed: the newer connection replaces the dead one); the engine then hears the other
    tunnel's silence. ``who`` (asked on gw-b) still lists Mover, once, as a single process lists
    a dropped character in its grace. Mover reconnects through gw-b with the same token and
    resumes: welcomed in the room it walked to, carrying the poker; Watcher saw nobody leave or
    arrive, hears Mover speak once; ``who`` lists each of the three once."""
    async with gateways_and_engine(tmp_path, grace=120.0) as cluster:
        async with rest(cluster.b.base_url) as http:
            (token_m, mover), (token_q, quick), (token_w, watcher) = [
                await new_character(http) for _ in "mqw"
            ]
        on_a_m, on_a_q = await Client.open(cluster.a.ws_url), await Client.open(cluster.a.ws_url)
        on_b_w = await Client.open(cluster.b.ws_url)
        clients = [on_a_m, on_a_q, on_b_w]
        try:
            for client, token, name in (
                (on_a_m, token_m, mover),
                (on_a_q, token_q, quick),
                (on_b_w, token_w, watcher),
            ):
                assert (await client.hello(token, name))["type"] == "welcome"
            assert (await on_a_m.command("get poker"))["ok"] is True
            for client in (on_b_w, on_a_q, on_a_m):
                assert (await client.command(DIRECTION.value))["ok"] is True
            assert (await on_b_w.command("look"))["ok"] is True  # it has seen both arrive
            assert len(events_naming(on_b_w, mover)) == 1  # Mover's arrival
            before_kill = len(on_b_w.received)

            cluster.a.signal(signal.SIGKILL)
            assert await cluster.a.wait() == -signal.SIGKILL

            # Quick at once: the engine has not noticed yet (a lease of silence).
            again_q = await Client.open(cluster.b.ws_url)
            clients.append(again_q)
            welcome_q = await again_q.hello(token_q, quick)
            assert welcome_q["type"] == "welcome", welcome_q
            assert welcome_q["room"]["id"] == THERE

            async def noticed() -> bool:
                return len(cluster.engine.events("tunnel_relay_silent")) >= 1

            await eventually(noticed, NOTICED_WITHIN, "the engine hears the tunnel's silence")
            listed = names_in_who(await on_b_w.command("who"))
            assert sorted(listed) == sorted([mover, quick, watcher]), listed

            again_m = await resumed(cluster.b.ws_url, token_m, mover, THERE, watcher, clients)
            said = await again_m.command("say Back through the other door.")
            assert said["ok"] is True, said
            heard = await on_b_w.wait_for(heard_on("say"))
            assert heard["text"] == f'{mover} says, "Back through the other door."'
            for client in (on_b_w, again_m, again_q):
                listed = names_in_who(await client.command("who"))
                assert sorted(listed) == sorted([mover, quick, watcher]), listed
            looked = await on_b_w.command("look")
            assert looked["ok"] is True
            view = [f for f in on_b_w.received if f.get("type") == "room"][-1]["room"]
            assert sorted(view["players"]) == sorted([mover, quick]), view
            # Nobody left or stepped out of the fog: the characters stayed in play.
            after = on_b_w.received[before_kill:]
            assert not [f for f in after if f.get("type") == "event"], after
            for client in (on_b_w, again_m, again_q):
                assert client.seqs == list(range(1, len(client.seqs) + 1))
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.ws.close()
        assert cluster.engine.events("tunnel_relay_silent")


async def test_a_player_of_a_killed_gateway_who_does_not_return_leaves_play_and_is_saved(
    tmp_path: Path,
) -> None:
    """Mover (on gw-a) takes the poker and walks east, where Watcher (on gw-b) stands; gw-a is
    killed and Mover does not come back: once the engine has heard the silence and the grace
    has run out, Watcher sees Mover fade into the fog, ``who`` lists Watcher alone, and Mover
    is stored where it stood, carrying the poker."""
    grace = 2.0
    async with gateways_and_engine(tmp_path, grace=grace) as cluster:
        async with (
            rest(cluster.b.base_url) as http,
            in_play(http, cluster.a.ws_url, cluster.b.ws_url) as played,
        ):
            [(on_a, mover), (on_b, watcher)] = played
            await follow_with_the_poker(on_a, on_b, mover)

            cluster.a.signal(signal.SIGKILL)
            assert await cluster.a.wait() == -signal.SIGKILL
            left = await on_b.wait_for(
                lambda f: f.get("event") == "left" and f.get("name") == mover,
                NOTICED_WITHIN + grace,
            )
            assert left["text"] == f"{mover} fades into the fog."
            assert names_in_who(await on_b.command("who")) == [watcher]
            assert len(events_naming(on_b, mover)) == 2  # arrived, then left: once each
        room_id, carried = await stored(cluster.database_url, mover)
        assert room_id == THERE
        assert any("poker" in item for item in carried), carried
        assert cluster.engine.events("tunnel_relay_silent")


async def test_players_of_a_killed_relaying_serve_cluster_resume_on_the_holder(
    database_url: str, tmp_path: Path
) -> None:
    """Two ``serve --cluster`` processes: beta holds the start zone, alpha the others. Mover,
    connected to alpha, is relayed to beta; Watcher is connected to beta. Alpha is killed: beta
    hears the tunnel's silence, keeps Mover in play for the grace, and Mover, reconnecting to
    beta itself, resumes there (served in beta's own process): in the room it walked to, with
    the poker; Watcher saw nobody leave or arrive and hears Mover once; ``who`` lists each once."""
    async with (
        private_nats(tmp_path) as nats,
        starting_cluster(
            database_url, nats.url, tmp_path, KADATH_RECONNECT_GRACE_SECONDS="120"
        ) as cluster,
    ):
        (token_m, mover), (token_w, watcher) = [await new_character(cluster.http) for _ in "mw"]
        relayed = await Client.open(cluster.alpha.ws_url)
        watching = await Client.open(cluster.beta.ws_url)
        clients = [relayed, watching]
        try:
            assert (await relayed.hello(token_m, mover))["type"] == "welcome"
            assert (await watching.hello(token_w, watcher))["type"] == "welcome"
            await follow_with_the_poker(relayed, watching, mover)
            before_kill = len(watching.received)

            cluster.alpha.signal(signal.SIGKILL)
            assert await cluster.alpha.wait() == -signal.SIGKILL

            async def noticed() -> bool:
                return bool(cluster.beta.events("tunnel_relay_silent"))

            await eventually(noticed, NOTICED_WITHIN, "beta hears the tunnel's silence")
            listed = names_in_who(await watching.command("who"))
            assert sorted(listed) == sorted([mover, watcher]), listed

            again = await resumed(cluster.beta.ws_url, token_m, mover, THERE, watcher, clients)
            assert (await again.command("say Still here."))["ok"] is True
            heard = await watching.wait_for(heard_on("say"))
            assert heard["text"] == f'{mover} says, "Still here."'
            for client in (watching, again):
                listed = names_in_who(await client.command("who"))
                assert sorted(listed) == sorted([mover, watcher]), listed
            after = watching.received[before_kill:]
            assert not [f for f in after if f.get("type") == "event"], after
            assert again.seqs == list(range(1, len(again.seqs) + 1))
            assert watching.seqs == list(range(1, len(watching.seqs) + 1))
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.ws.close()
