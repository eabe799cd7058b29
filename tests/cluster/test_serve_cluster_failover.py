"""``kadath serve --cluster``: when the process holding a relayed player's zone dies, the relay
keeps the client and routes it to the process that takes the zone (one reply per command,
nothing committed lost); when nobody takes the zone in time, the client is told to try again;
when the holder stops in order, the relayed client hears the shutdown as a directly connected
one would (each test has a cluster of its own: it stops a process)."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from kadath_cluster import LEASE_SECONDS, RENEW_SECONDS, SLACK_SECONDS, cluster_config, eventually
from kadath_serve import START_ZONE, WORLD, ZONES, Client, Cluster, Frame, new_character

from kadath.cluster.failover import SHIFTED, SHIFTS, failover_bound
from kadath.cluster.zones import pin, zone_statuses
from kadath.realtime.protocol import CLOSE_RESTART, CLOSE_TRY_AGAIN_LATER

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
# east, then north, from the start room: the first room of another zone (held by alpha).
ACROSS_ROOM = "miskatonic.campus_gate"
ACROSS_ZONE = WORLD.rooms[ACROSS_ROOM].zone_id
BOUND = failover_bound(LEASE_SECONDS, RENEW_SECONDS)
# From the killing of a holder: a lease until the relay hears its silence, then the failover's
# bound, and slack for a loaded machine.
FAILOVER_WITHIN = LEASE_SECONDS + BOUND + 2 * SLACK_SECONDS


def is_notice(frame: Frame) -> bool:
    return frame.get("type") == "message" and frame.get("text") == SHIFTS


def replies_per_command(client: Client) -> Counter[str]:
    return Counter(str(f["re"]) for f in client.received if f.get("type") in ("reply", "error"))


async def test_a_relayed_player_whose_holder_dies_keeps_the_connection_and_plays_on(
    own_cluster: Cluster,
) -> None:
    """The start zone is unpinned (beta keeps it while it lives). The client, on alpha, plays
    in beta's zone: takes the poker, walks to the next room (saved). Beta is stopped with a
    command in flight, then killed: the client's connection stays open, it gets the notice and
    one error reply for that command; once alpha holds the zone, look, inventory and say work
    through alpha, in the room and with the item committed before the kill; seq gap-free, one
    welcome, one reply per command."""
    cluster = own_cluster
    env = cluster.alpha.env
    config = cluster_config(env["KADATH_DATABASE_URL"], env["KADATH_NATS_URL"], "test")
    await pin(config, ZONES, START_ZONE, None)
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.alpha.ws_url)
    try:
        welcome = await client.hello(token, name)
        assert welcome["type"] == "welcome", welcome
        assert (await client.command("get poker"))["ok"] is True
        room = WORLD.rooms[WORLD.start_room_id]
        direction, there = next(iter(room.exits.items()))
        assert WORLD.rooms[there].zone_id == START_ZONE
        assert (await client.command(direction.value))["ok"] is True
        player_id = welcome["player"]["id"]

        async def saved_there() -> bool:
            response = await cluster.http.get(
                f"/api/players/{player_id}", headers={"Authorization": f"Bearer {token}"}
            )
            return bool(response.json()["room_id"] == there)

        await eventually(saved_there, 10 + SLACK_SECONDS, "the position saved")
        cluster.beta.signal(signal.SIGSTOP)  # beta will never read the next command
        in_flight = await client.send_command("say Is anyone there?")
        cluster.beta.signal(signal.SIGKILL)
        assert await cluster.beta.wait() == -signal.SIGKILL
        await client.wait_for(is_notice, LEASE_SECONDS + SLACK_SECONDS)
        shifted = await client.wait_for(lambda f: f.get("re") == in_flight)
        assert shifted == {**shifted, "type": "reply", "ok": False, "text": SHIFTED}
        look = await client.command("look", BOUND + SLACK_SECONDS)  # served once alpha holds it
        assert look["ok"] is True, look
        shown = [f for f in client.received if f.get("type") == "room"]
        assert shown[-1]["room"]["id"] == there
        carried = await client.command("inventory")
        assert carried["ok"] is True and "poker" in carried["text"], carried
        said = await client.command("say The world shifted.")
        assert said == {**said, "ok": True, "text": 'You say, "The world shifted."'}
        assert client.seqs == list(range(1, len(client.seqs) + 1))
        assert [f["type"] for f in client.received].count("welcome") == 1
        assert set(replies_per_command(client).values()) == {1}
        assert len(replies_per_command(client)) == 6  # get, east, in flight, look, inv, say
        assert len([f for f in client.received if is_notice(f)]) == 1
    finally:
        await client.ws.close()
    assert cluster.alpha.events("player_failing_over")
    assert cluster.alpha.events("player_failed_over")


async def test_a_relayed_player_whose_holder_stalls_fails_over_to_it_again(
    own_cluster: Cluster,
) -> None:
    """Beta (holding the start zone, pinned to it) is stopped past a lease with a command in
    flight, then continued: the relay hears its silence, tells the client the world shifts and
    answers that command once; beta, awake, finds its lease lapsed and takes the zone again, and
    the relay routes the player back to it through a new tunnel: look and say work, seq
    gap-free, one welcome, one reply per command."""
    cluster = own_cluster
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.alpha.ws_url)
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        assert (await client.command("look"))["ok"] is True
        cluster.beta.signal(signal.SIGSTOP)
        try:
            in_flight = await client.send_command("say Is anyone there?")
            await client.wait_for(is_notice, LEASE_SECONDS + SLACK_SECONDS)
        finally:
            cluster.beta.signal(signal.SIGCONT)
        shifted = await client.wait_for(lambda f: f.get("re") == in_flight)
        assert shifted == {**shifted, "type": "reply", "ok": False, "text": SHIFTED}
        look = await client.command("look", BOUND + SLACK_SECONDS)
        assert look["ok"] is True, look
        said = await client.command("say Back again.")
        assert said == {**said, "ok": True, "text": 'You say, "Back again."'}
        assert client.seqs == list(range(1, len(client.seqs) + 1))
        assert [f["type"] for f in client.received].count("welcome") == 1
        assert set(replies_per_command(client).values()) == {1}
        assert len(replies_per_command(client)) == 4
        # Once, or again if a command ran while beta, awake, dropped its lapsed lease and took
        # the zone again: that hands the player over into a zone held by nobody for a moment.
        assert [f for f in client.received if is_notice(f)]
    finally:
        await client.ws.close()
    assert len(cluster.alpha.events("tunnel_relayed")) >= 2


async def test_a_hand_over_into_a_zone_nobody_holds_waits_until_it_is_held(
    own_cluster: Cluster,
) -> None:
    """The zone across the border is pinned to an engine that is not running, so alpha lets
    it go. A relayed player walks into it: beta hands it over (saved there), nobody answers for
    the zone, the client hears the world shift and keeps its connection; a look sent meanwhile
    waits. Once the zone is pinned back to alpha and alpha holds it, the look is served there,
    in the room walked into: one welcome, gap-free seq, one reply per command."""
    cluster = own_cluster
    env = cluster.alpha.env
    config = cluster_config(env["KADATH_DATABASE_URL"], env["KADATH_NATS_URL"], "test")
    await pin(config, ZONES, ACROSS_ZONE, "nobody")

    async def owner(zone: str) -> str | None:
        return next(s.owner for s in await zone_statuses(config, ZONES) if s.zone == zone)

    async def unheld() -> bool:
        return await owner(ACROSS_ZONE) is None

    await eventually(unheld, LEASE_SECONDS + SLACK_SECONDS, f"{ACROSS_ZONE} let go")
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.alpha.ws_url)
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        assert (await client.command("east"))["ok"] is True
        assert (await client.command("north"))["ok"] is True  # beta answers, then hands over
        await client.wait_for(is_notice, SLACK_SECONDS)
        looking = await client.send_command("look")
        await pin(config, ZONES, ACROSS_ZONE, "alpha")
        look = await client.wait_for(lambda f: f.get("re") == looking, BOUND + SLACK_SECONDS)
        assert look == {**look, "type": "reply", "ok": True}
        shown = [f for f in client.received if f.get("type") == "room"]
        assert shown[-1]["room"]["id"] == ACROSS_ROOM
        assert client.seqs == list(range(1, len(client.seqs) + 1))
        assert [f["type"] for f in client.received].count("welcome") == 1
        assert set(replies_per_command(client).values()) == {1}
        assert len(replies_per_command(client)) == 3
    finally:
        await client.ws.close()
    assert await owner(ACROSS_ZONE) == "alpha"


async def test_when_nobody_takes_the_zone_the_client_is_told_to_try_again(
    own_cluster: Cluster,
) -> None:
    """Beta (holding the start zone, pinned to it) is killed, so nobody takes the zone. The
    relayed client gets the notice once beta has been silent for a lease, then after the
    failover's bound "try again" and 1013; a new connection gets "try again" and 1013 after
    the bound too, as its first frame."""
    cluster = own_cluster
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.alpha.ws_url)
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        await cluster.beta.close()  # SIGKILL
        again = await Client.open(cluster.alpha.ws_url)
        try:
            refused = await again.hello(token, name, FAILOVER_WITHIN)
            assert refused["type"] == "error" and "reorganising" in refused["text"], refused
            assert refused["seq"] == 1
            assert await again.closed() == CLOSE_TRY_AGAIN_LATER
        finally:
            await again.ws.close()
        assert await client.closed(FAILOVER_WITHIN) == CLOSE_TRY_AGAIN_LATER
        assert [f for f in client.received if is_notice(f)], client.received
        error = client.received[-1]
        assert error["type"] == "error" and "reorganising" in error["text"], client.received
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()
    assert cluster.alpha.events("player_failover_failed")


async def test_when_the_holder_stops_a_relayed_client_hears_the_shutdown(
    own_cluster: Cluster,
) -> None:
    """SIGTERM to beta: its session for the client relayed by alpha is saved, told and closed
    (1012) as a direct one would be, through the tunnel; seq stays gap-free; beta gives its
    zone back."""
    cluster = own_cluster
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.alpha.ws_url)
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        assert (await client.command("look"))["ok"] is True
        cluster.beta.signal(signal.SIGTERM)
        assert await client.closed() == CLOSE_RESTART
        assert client.received[-1].get("event") == "shutdown", client.received
        assert client.seqs == list(range(1, len(client.seqs) + 1))
        assert await cluster.beta.wait() in (0, -signal.SIGTERM)  # uvicorn re-raises it
        assert [e["zone"] for e in cluster.beta.events("zone_released")] == [START_ZONE]
    finally:
        await client.ws.close()
