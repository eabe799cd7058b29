"""Channels across the processes of ``kadath serve --cluster`` (real subprocesses): a line said
on a channel by a player served by one process reaches the players on that channel served by
the other, exactly once; a player who left or muted the channel, or ignores the speaker, does
not read it; ``history`` on either process shows it."""

from __future__ import annotations

import asyncio

import pytest
from kadath_serve import WORLD, Client, Cluster, new_character, walk

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
# east, then north, from the start room: the first room of another zone (held by alpha).
ACROSS_ROOM = "miskatonic.campus_gate"
SETTLE = 0.5  # seconds given to a duplicate to show up before counting (not a speed bound)


def on_channel(client: Client, channel: str, text: str) -> list[dict[str, object]]:
    """The channel frames ``client`` received on ``channel`` with ``text``."""
    return [
        f
        for f in client.received
        if f.get("type") == "channel" and f.get("channel") == channel and f.get("text") == text
    ]


async def heard(client: Client, channel: str, text: str) -> dict[str, object]:
    return await client.wait_for(
        lambda f: f.get("type") == "channel" and f.get("channel") == channel and f["text"] == text
    )


async def test_a_channel_line_reaches_the_players_of_every_process_once(
    serve_cluster: Cluster,
) -> None:
    """``there`` is served by alpha (it walks into alpha's zone), ``here``, ``gone`` (left ooc),
    ``deaf`` (muted ooc) and ``shy`` (ignores ``there``) by beta (the start zone)."""
    cluster = serve_cluster
    names = ["there", "here", "gone", "deaf", "shy"]
    made = {n: await new_character(cluster.http) for n in names}
    clients = {n: await Client.open(cluster.beta.ws_url) for n in names}
    there, here, gone, deaf, shy = (clients[n] for n in names)
    try:
        for n in names:
            token, character = made[n]
            assert (await clients[n].hello(token, character))["type"] == "welcome"
        await walk(there, "east", "north", ACROSS_ROOM)
        assert (await gone.command("channel leave ooc"))["ok"] is True
        assert (await deaf.command("channel mute ooc"))["ok"] is True
        assert (await shy.command(f"ignore {made['there'][1]}"))["ok"] is True

        said = await there.command("ooc The stars are right.")
        assert said["ok"] is True, said
        for client in (here, there):
            frame = await heard(client, "ooc", "The stars are right.")
            assert frame["from"] == made["there"][1]
        # And back: beta's player speaks, alpha's hears.
        assert (await here.command("ooc Ph'nglui mglw'nafh."))["ok"] is True
        for client in (here, there):
            await heard(client, "ooc", "Ph'nglui mglw'nafh.")
        await asyncio.sleep(SETTLE)
        for client in (here, there):
            assert (await client.command("look"))["ok"] is True  # a round trip after it
            assert len(on_channel(client, "ooc", "The stars are right.")) == 1
            assert len(on_channel(client, "ooc", "Ph'nglui mglw'nafh.")) == 1
        for client in (gone, deaf):
            assert (await client.command("look"))["ok"] is True
            assert not on_channel(client, "ooc", "The stars are right.")
            assert not on_channel(client, "ooc", "Ph'nglui mglw'nafh.")
        assert not on_channel(shy, "ooc", "The stars are right.")
        await heard(shy, "ooc", "Ph'nglui mglw'nafh.")

        for client in (here, there):
            history = await client.command("history ooc 5")
            assert history["ok"] is True, history
            lines = [line.split(" ", 1)[1] for line in str(history["text"]).splitlines()]
            assert lines[-2:] == [
                f"[ooc] {made['there'][1]}: The stars are right.",
                f"[ooc] {made['here'][1]}: Ph'nglui mglw'nafh.",
            ], history["text"]
        for client in clients.values():
            assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        for client in clients.values():
            await client.ws.close()


async def test_a_player_who_joins_on_one_process_hears_the_other(serve_cluster: Cluster) -> None:
    """A staff channel: only builders hear it, wherever they are served; ``newbie`` left and
    joined again on alpha is heard from beta."""
    cluster = serve_cluster
    (token_t, name_t), (token_h, name_h) = [await new_character(cluster.http) for _ in "th"]
    there = await Client.open(cluster.alpha.ws_url)
    here = await Client.open(cluster.beta.ws_url)
    try:
        assert (await there.hello(token_t, name_t))["type"] == "welcome"
        assert (await here.hello(token_h, name_h))["type"] == "welcome"
        await walk(there, "east", "north", ACROSS_ROOM)
        assert (await there.command("channel leave newbie"))["ok"] is True
        assert (await here.command("newbie Unheard."))["ok"] is True
        await heard(here, "newbie", "Unheard.")
        assert (await there.command("channel join newbie"))["ok"] is True
        assert (await here.command("newbie Which way to Arkham?"))["ok"] is True
        await heard(there, "newbie", "Which way to Arkham?")
        assert not on_channel(there, "newbie", "Unheard.")
        assert WORLD.rooms[ACROSS_ROOM].zone_id != WORLD.rooms[WORLD.start_room_id].zone_id
    finally:
        await there.ws.close()
        await here.ws.close()
