"""``kadath serve --cluster``: a write of a zone's state goes through the fence. A holder stalled
(SIGSTOP) past its lease, whose zone another process has taken meanwhile, wakes up unable to
write it: the player's command is refused with "the world is reorganising", nothing of it is
committed, the stalled process drops the zone, and the player goes on at the new holder."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from kadath_cluster import (
    LEASE_SECONDS,
    RENEW_SECONDS,
    SLACK_SECONDS,
    cluster_config,
    eventually,
    private_nats,
)
from kadath_serve import (
    START_ZONE,
    WAIT,
    WORLD,
    ZONES,
    Client,
    Cluster,
    new_character,
    starting_cluster,
)
from websockets.asyncio.client import connect

from kadath.cluster.zones import pin, zone_statuses
from kadath.persistence.engine import create_engine

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
# The stalled holder's last renewal was at most a period before it stopped; its lease lapses
# a lease after that, and the pinned process tries every period.
TAKE_OVER_BOUND = LEASE_SECONDS + 4 * RENEW_SECONDS + SLACK_SECONDS


@pytest.fixture
async def cluster(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Cluster, str]]:
    async with (
        private_nats(tmp_path) as nats,
        starting_cluster(database_url, nats.url, tmp_path) as c,
    ):
        yield c, nats.url


async def item_place(database_url: str, item_id: object) -> tuple[str | None, object]:
    """(room_id, owner_player_id) of the item as committed."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text("SELECT room_id, owner_player_id FROM item_instances WHERE id = :id"),
                    {"id": item_id},
                )
            ).one()
    finally:
        await engine.dispose()
    return row[0], row[1]


async def poker_on_the_start_floor(database_url: str) -> object:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            return (
                (
                    await conn.execute(
                        sa.text(
                            "SELECT id FROM item_instances WHERE prototype_id = 'fireplace_poker' "
                            "AND room_id = :room"
                        ),
                        {"room": WORLD.start_room_id},
                    )
                )
                .scalars()
                .first()
            )
    finally:
        await engine.dispose()


async def test_a_stalled_holder_cannot_write_the_zone_it_lost_and_the_player_goes_on(
    cluster: tuple[Cluster, str], database_url: str
) -> None:
    c, nats_url = cluster
    beta = c.beta
    token, name = await new_character(c.http)
    poker = await poker_on_the_start_floor(database_url)
    assert poker is not None, "the start room's poker (world data) is gone"
    # Straight to beta, which holds the start zone; no client pings (beta will be stopped).
    client = Client(await connect(beta.ws_url, proxy=None, open_timeout=WAIT, ping_interval=None))
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        got = await client.command("get poker")
        assert got["ok"] is True, got  # the holder writes through the fence
        _, owner = await item_place(database_url, poker)
        assert owner is not None

        beta.signal(signal.SIGSTOP)
        config = cluster_config(database_url, nats_url, "test")
        await pin(config, ZONES, START_ZONE, "alpha")

        async def alpha_took_it() -> bool:
            [status] = [s for s in await zone_statuses(config, ZONES) if s.zone == START_ZONE]
            return status.owner == status.recorded_owner == "alpha"

        await eventually(alpha_took_it, TAKE_OVER_BOUND, "alpha holds the start zone")
        await client.ws.send(
            '{"type": "command", "id": "stalled", "text": "drop poker"}'
        )  # waits in beta's socket
        beta.signal(signal.SIGCONT)

        refused = await client.wait_for(
            lambda f: f.get("type") == "reply" and f.get("re") == "stalled"
        )
        assert refused["ok"] is False, refused
        assert "reorganising" in refused["text"], refused
        assert await item_place(database_url, poker) == (None, owner)  # nothing committed
        await eventually(
            lambda: _dropped(beta.events("zone_dropped")),
            SLACK_SECONDS,
            "beta drops the start zone",
        )

        async def write_fenced() -> bool:  # its log lines reach the file a little later
            return {e["zone"] for e in beta.events("zone_write_fenced")} == {START_ZONE}

        await eventually(write_fenced, SLACK_SECONDS, "beta logs the refused write")

        # Handed over to the new holder, the player goes on; the same drop now commits.
        dropped = await client.command("drop poker")
        assert dropped["ok"] is True, dropped
        assert await item_place(database_url, poker) == (WORLD.start_room_id, None)
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()


async def _dropped(events: list[dict[str, object]]) -> bool:
    return any(e["zone"] == START_ZONE and e["reason"] == "fenced" for e in events)


async def stored_room(database_url: str, name: str) -> str:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            room = await conn.scalar(
                sa.text("SELECT room_id FROM players WHERE name = :name"), {"name": name}
            )
    finally:
        await engine.dispose()
    return str(room)


async def test_a_stalled_holder_cannot_save_a_departing_player_over_the_new_holders_save(
    cluster: tuple[Cluster, str], database_url: str
) -> None:
    c, nats_url = cluster
    beta = c.beta
    token, name = await new_character(c.http)
    stale = Client(await connect(beta.ws_url, proxy=None, open_timeout=WAIT, ping_interval=None))
    fresh: Client | None = None
    try:
        assert (await stale.hello(token, name))["type"] == "welcome"
        assert (await stale.command("up"))["ok"] is True  # beta has it upstairs, in memory

        beta.signal(signal.SIGSTOP)
        config = cluster_config(database_url, nats_url, "test")
        await pin(config, ZONES, START_ZONE, "alpha")

        async def alpha_took_it() -> bool:
            [status] = [s for s in await zone_statuses(config, ZONES) if s.zone == START_ZONE]
            return status.owner == status.recorded_owner == "alpha"

        await eventually(alpha_took_it, TAKE_OVER_BOUND, "alpha holds the start zone")
        # The player goes on at the new holder, which saves where it walks.
        fresh = await Client.open(c.alpha.ws_url)
        assert (await fresh.hello(token, name))["type"] == "welcome"
        walked = WORLD.rooms[WORLD.start_room_id].exits
        assert (await fresh.command("east"))["ok"] is True
        street = next(room for d, room in walked.items() if d.value == "east")

        async def alpha_saved() -> bool:
            return await stored_room(database_url, name) == street

        await eventually(alpha_saved, 5 + SLACK_SECONDS, "alpha's position save")

        stale.ws.transport.abort()  # the stalled holder's client goes away meanwhile
        beta.signal(signal.SIGCONT)

        async def save_refused() -> bool:  # after the reconnect grace, its save on leaving
            return any(e["zone"] == START_ZONE for e in beta.events("leave_save_fenced"))

        await eventually(save_refused, LEASE_SECONDS + SLACK_SECONDS, "beta's save refused")
        assert await stored_room(database_url, name) == street  # the new holder's save stands
    finally:
        await stale.ws.close()
        if fresh is not None:
            await fresh.ws.close()


async def stored_progress(database_url: str, name: str, room: str) -> tuple[int, int]:
    """(experience, visits of ``room``) of the character as committed."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            experience, visits = (
                await conn.execute(
                    sa.text(
                        "SELECT p.experience, (SELECT count(*) FROM explored_rooms e "
                        "WHERE e.player_id = p.id AND e.room_id = :room) "
                        "FROM players p WHERE p.name = :name"
                    ),
                    {"name": name, "room": room},
                )
            ).one()
    finally:
        await engine.dispose()
    return int(experience), int(visits)


async def test_a_stalled_holder_cannot_pay_a_first_visit_in_the_zone_it_lost(
    cluster: tuple[Cluster, str], database_url: str
) -> None:
    c, nats_url = cluster
    beta = c.beta
    token, name = await new_character(c.http)
    exits = WORLD.rooms[WORLD.start_room_id].exits
    street = next(room for d, room in exits.items() if d.value == "east")
    assert WORLD.rooms[street].zone_id == START_ZONE and not WORLD.rooms[street].lucidity_cost
    client = Client(await connect(beta.ws_url, proxy=None, open_timeout=WAIT, ping_interval=None))
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        assert await stored_progress(database_url, name, street) == (0, 0)

        beta.signal(signal.SIGSTOP)
        config = cluster_config(database_url, nats_url, "test")
        await pin(config, ZONES, START_ZONE, "alpha")

        async def alpha_took_it() -> bool:
            [status] = [s for s in await zone_statuses(config, ZONES) if s.zone == START_ZONE]
            return status.owner == status.recorded_owner == "alpha"

        await eventually(alpha_took_it, TAKE_OVER_BOUND, "alpha holds the start zone")
        await client.ws.send('{"type": "command", "id": "stalled", "text": "east"}')
        beta.signal(signal.SIGCONT)

        refused = await client.wait_for(
            lambda f: f.get("type") == "reply" and f.get("re") == "stalled"
        )
        assert refused["ok"] is False, refused
        assert "reorganising" in refused["text"], refused
        assert await stored_progress(database_url, name, street) == (0, 0)  # nothing paid

        # Handed over to the new holder, the player walks there and is paid once.
        assert (await client.command("east"))["ok"] is True
        experience, visits = await stored_progress(database_url, name, street)
        assert experience > 0 and visits == 1
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()
