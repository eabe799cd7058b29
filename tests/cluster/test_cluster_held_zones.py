"""``kadath serve --cluster`` with NPCs spawning: a zone's NPCs live in exactly one process, the
one holding the zone; they follow the zone when it moves (a pin) or when its holder dies."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kadath_cluster import (
    LEASE_SECONDS,
    RENEW_SECONDS,
    SLACK_SECONDS,
    ServeProcess,
    cluster_config,
    eventually,
    private_nats,
)
from kadath_serve import (
    START_ZONE,
    WORLD,
    ZONES,
    Client,
    Cluster,
    make_admin,
    new_character,
    rest,
    starting_cluster,
)

from kadath.cluster.zones import pin, zone_statuses

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
# The NPCs a zone always has (its required spawn rules), however the dice fall.
REQUIRED = Counter[str]()
for _rule in WORLD.spawns:
    if _rule.required:
        REQUIRED[_rule.zone_id] += _rule.max_population
# A pin moves a zone at the holder's next renewal and the pinned process's next; a dead holder's
# lease lapses one lease after its last renewal.
MOVE_BOUND = LEASE_SECONDS + 4 * RENEW_SECONDS + SLACK_SECONDS


@pytest.fixture
async def npc_cluster(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Cluster, str]]:
    """alpha and beta (beta holding the start zone) with NPCs spawning; and NATS's URL."""
    async with (
        private_nats(tmp_path) as nats,
        starting_cluster(database_url, nats.url, tmp_path, KADATH_NPC_SPAWNING="true") as c,
    ):
        yield c, nats.url


async def stats(process: ServeProcess, token: str) -> dict[str, Any]:
    async with rest(process.base_url) as http:
        response = await http.get(
            "/api/monitoring/stats", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


def runs_exactly(found: dict[str, Any], zones: set[str]) -> bool:
    """The process runs exactly ``zones``, each with at least its required NPCs, and has no
    NPC in any other zone."""
    by_zone: dict[str, int] = found["npcs_by_zone"]
    return (
        set(found["held_zones"]) == zones
        and set(by_zone) == zones
        and all(by_zone[zone] >= REQUIRED[zone] for zone in zones)
    )


async def test_each_zones_npcs_live_only_in_the_process_holding_it_and_follow_the_zone(
    npc_cluster: tuple[Cluster, str], database_url: str
) -> None:
    cluster, nats_url = npc_cluster
    token, name = await new_character(cluster.http)
    await make_admin(database_url, name)
    alpha_zones = set(ZONES) - {START_ZONE}
    assert all(REQUIRED[zone] > 0 for zone in ZONES)  # else a zone could show no NPC anyway

    # At start: beta runs the start zone's NPCs, alpha every other zone's, none twice.
    async def at_start() -> bool:
        a, b = await stats(cluster.alpha, token), await stats(cluster.beta, token)
        return runs_exactly(a, alpha_zones) and runs_exactly(b, {START_ZONE})

    await eventually(at_start, SLACK_SECONDS, "each process runs the NPCs of its zones only")

    # ``kadath zones`` shows them too: each holder writes its counts into its leases.
    config = cluster_config(database_url, nats_url, "test")

    async def counted() -> bool:
        a, b = await stats(cluster.alpha, token), await stats(cluster.beta, token)
        alive = {**a["npcs_by_zone"], **b["npcs_by_zone"]}
        listed = {s.zone: (s.players, s.npcs) for s in await zone_statuses(config, ZONES)}
        return listed == {zone: (int(zone == START_ZONE), alive[zone]) for zone in ZONES}

    player = await Client.open(cluster.alpha.ws_url)  # relayed to beta, in the start zone
    try:
        assert (await player.hello(token, name))["type"] == "welcome"
        await eventually(counted, SLACK_SECONDS, "kadath zones lists players and NPCs per zone")
    finally:
        await player.ws.close()

    # A pin moves a zone of alpha's to beta: its NPCs leave alpha and come to life on beta.
    moved = sorted(alpha_zones)[0]
    await pin(config, ZONES, moved, "beta")

    async def after_move() -> bool:
        a, b = await stats(cluster.alpha, token), await stats(cluster.beta, token)
        return runs_exactly(a, alpha_zones - {moved}) and runs_exactly(b, {START_ZONE, moved})

    await eventually(after_move, MOVE_BOUND, f"{moved} and its NPCs move to beta")

    # beta dies; with the pins lifted, alpha takes its zones and their NPCs appear there.
    await cluster.beta.close()  # SIGKILL
    await pin(config, ZONES, START_ZONE, None)
    await pin(config, ZONES, moved, None)

    async def after_death() -> bool:
        return runs_exactly(await stats(cluster.alpha, token), set(ZONES))

    await eventually(after_death, MOVE_BOUND, "alpha takes beta's zones and their NPCs")

    async def logged() -> bool:  # its log lines reach the file a little later
        alpha = cluster.alpha
        removed = {e["zone"] for e in alpha.events("zone_npcs_removed")}
        spawned = {e["zone"] for e in alpha.events("zone_npcs_spawned")}
        return removed == {moved} and spawned == set(ZONES)

    await eventually(logged, SLACK_SECONDS, "alpha logs each zone's NPCs spawned and removed")
