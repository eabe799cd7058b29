"""Placement (protocol 4): a client that says ``follow`` in its hello is sent (``moved``) to the
process holding its character's zone when that process has a public URL, at the hello and
when it walks into such a zone; a client that does not follow, or a holder without a public
URL, is relayed as before. Two ``kadath serve --cluster`` processes: alpha (every zone but the
start zone) advertises its URL, beta (the start zone) does not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

import pytest
import sqlalchemy as sa
from kadath_cluster import private_nats
from kadath_serve import (
    START_ZONE,
    WORLD,
    Client,
    Cluster,
    Frame,
    new_character,
    starting_cluster,
)

from kadath.persistence.engine import create_engine

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
ACROSS_ROOM = "miskatonic.campus_gate"  # east, then north, from the start room (alpha's)
ACROSS_ZONE = WORLD.rooms[ACROSS_ROOM].zone_id
BACK_ROOM = "arkham.garrison_street"  # south of it, in the start zone (beta's)


@pytest.fixture(scope="module")
async def placing(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    root = tmp_path_factory.mktemp("placement")
    async with (
        private_nats(root) as nats,
        starting_cluster(database_url, nats.url, root, advertise=("alpha",)) as cluster,
    ):
        yield cluster


async def test_a_following_client_of_the_wrong_process_is_moved_to_the_holder(
    placing: Cluster, database_url: str
) -> None:
    cluster = placing
    token, name = await new_character(cluster.http)
    await put_in(database_url, name, ACROSS_ROOM)  # alpha's zone
    relayed_before = len(cluster.beta.events("tunnel_relayed"))
    client = await Client.open(cluster.beta.ws_url)
    try:
        # The hello and a command right behind it, before the answer: the command is not run.
        hello = {"type": "hello", "token": token, "player": name, "follow": True}
        await client.ws.send(json.dumps(hello))
        unanswered = await client.send_command("look")
        assert await client.closed() == 1000
        first = client.received[0]
    finally:
        await client.ws.close()
    assert first == {"seq": 1, "type": "moved", "url": cluster.alpha.ws_url, "zone": ACROSS_ZONE}
    assert client.received == [first]
    assert len(cluster.beta.events("tunnel_relayed")) == relayed_before  # nothing relayed
    assert [e["zone"] for e in cluster.alpha.events("tunnel_placed")][-1] == ACROSS_ZONE

    there = await Client.open(first["url"])
    try:
        welcome = await there.hello(token, name, follow=True)
        assert welcome["type"] == "welcome", welcome
        assert welcome["room"]["id"] == ACROSS_ROOM
        await resend(there, [(unanswered, "look")])
        said = await there.command("say The stars are right.")
        assert said["ok"] is True
        assert one_reply_each(there.received)
        assert there.seqs == list(range(1, len(there.seqs) + 1))
    finally:
        await there.ws.close()
    # Served on alpha itself: alpha relayed nothing for it (no tunnel from alpha).
    assert not [e for e in cluster.alpha.events("tunnel_relayed") if e["zone"] == ACROSS_ZONE]


async def test_a_client_that_does_not_follow_is_relayed(
    placing: Cluster, database_url: str
) -> None:
    cluster = placing
    token, name = await new_character(cluster.http)
    await put_in(database_url, name, ACROSS_ROOM)
    relayed_before = len(cluster.beta.events("tunnel_relayed"))
    client = await Client.open(cluster.beta.ws_url)
    try:
        welcome = await client.hello(token, name)
        assert welcome["type"] == "welcome", welcome
        assert welcome["room"]["id"] == ACROSS_ROOM
        assert (await client.command("look"))["ok"] is True
        assert not [f for f in client.received if f["type"] == "moved"]
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()
    relayed = cluster.beta.events("tunnel_relayed")[relayed_before:]
    assert [e["zone"] for e in relayed] == [ACROSS_ZONE]


async def test_walking_into_a_zone_held_elsewhere_moves_a_following_client(
    placing: Cluster,
) -> None:
    cluster = placing
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.beta.ws_url)  # beta holds the start zone: served there
    try:
        welcome = await client.hello(token, name, follow=True)
        assert welcome["type"] == "welcome", welcome
        assert (await client.command("east"))["ok"] is True
        sent = [(await client.send_command(text), text) for text in ("north", "look", "score")]
        assert await client.closed() == 1000
    finally:
        await client.ws.close()
    moved = [f for f in client.received if f["type"] == "moved"]
    assert moved == [{**moved[0], "url": cluster.alpha.ws_url, "zone": ACROSS_ZONE}]
    assert client.received[-1] == moved[0]  # nothing after it
    assert client.seqs == list(range(1, len(client.seqs) + 1))
    answered = {f["re"] for f in client.received if f["type"] == "reply"}
    assert sent[0][0] in answered  # the walk itself was answered before the move
    assert one_reply_each(client.received)

    there = await Client.open(moved[0]["url"])
    try:
        welcome = await there.hello(token, name, follow=True)
        assert welcome["type"] == "welcome", welcome
        assert welcome["room"]["id"] == ACROSS_ROOM
        await resend(there, [(i, text) for i, text in sent if i not in answered])
        # Back into beta's zone: beta has no public URL, so the client is relayed there.
        assert (await there.command("south"))["ok"] is True
        assert (await there.command("look"))["ok"] is True
        await there.wait_for(lambda f: f.get("type") == "room" and f["room"]["id"] == BACK_ROOM)
        assert not [f for f in there.received if f["type"] == "moved"]
        assert one_reply_each(there.received)
        assert there.seqs == list(range(1, len(there.seqs) + 1))
    finally:
        await there.ws.close()
    welcomes = [f for f in client.received + there.received if f["type"] == "welcome"]
    assert len(welcomes) == 2  # one a connection


async def test_without_a_public_url_a_following_client_is_relayed(placing: Cluster) -> None:
    cluster = placing
    token, name = await new_character(cluster.http)  # in the start zone: beta's, no URL
    placed_before = len(cluster.beta.events("tunnel_placed"))
    relayed_before = len(cluster.alpha.events("tunnel_relayed"))
    client = await Client.open(cluster.alpha.ws_url)
    try:
        welcome = await client.hello(token, name, follow=True)
        assert welcome["type"] == "welcome", welcome
        assert (await client.command("look"))["ok"] is True
        assert (await client.command("say Still relayed."))["ok"] is True
        assert not [f for f in client.received if f["type"] == "moved"]
        assert one_reply_each(client.received)
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()
    assert len(cluster.beta.events("tunnel_placed")) == placed_before
    relayed = cluster.alpha.events("tunnel_relayed")[relayed_before:]
    assert [e["zone"] for e in relayed] == [START_ZONE]


async def resend(client: Client, commands: Iterable[tuple[str, str]]) -> None:
    """What a following client does after ``moved``: the commands that got no reply, again
    (with the same ids), each answered once. The client's own ids go on past them."""
    client._ids = 100
    for frame_id, text in commands:
        await client.ws.send(f'{{"type":"command","id":"{frame_id}","text":"{text}"}}')
        reply = await client.wait_for(lambda f, i=frame_id: f.get("re") == i)
        assert reply["type"] == "reply", reply


def one_reply_each(frames: list[Frame]) -> bool:
    ids = [f["re"] for f in frames if f["type"] == "reply"]
    return len(ids) == len(set(ids))


async def put_in(database_url: str, name: str, room: str) -> None:
    """The character ``name`` (not in play) stored in ``room``."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE players SET room_id = :room WHERE name = :name"),
                {"room": room, "name": name},
            )
    finally:
        await engine.dispose()
