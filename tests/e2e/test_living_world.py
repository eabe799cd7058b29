"""The living world on a real server: fights that pay experience, deaths with corpses and
respawns, NPCs that come back, a restart in mid-fight, a crowd at one chest, and the tick
running on under load.

Servers run without spawn rules (every NPC here is one an admin ``spawn``ed), with quick
corpses. A fight that must end in a death is fought with rats from a world copy where they
never flee nor wander (``world_with_steadfast_rats``), so it never ends in a chase."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kadath_e2e import Frame, GameClient, StartServer, bearer, is_event
from kadath_world import (
    CELLAR,
    WORLD_DEFAULTS,
    Realm,
    carried,
    committed,
    eventually,
    fill,
    give,
    is_combat,
    open_realm,
    player_record,
    room_of,
    text_of,
    world_with_quick_rats,
    world_with_steadfast_rats,
)

from kadath.domain.experience import xp_for_kill

START = "arkham.boarding_house"
STREET = "arkham.garrison_street"  # east of START
SQUARE = "arkham.independence_square"
ARENA = "graveyard.potters_field"  # unsafe, and no arkham or miskatonic NPC can flee it
OFFICE = "miskatonic.sanitarium_office"  # the steel filing cabinet (unlocked, capacity 6)
GRACE = float(WORLD_DEFAULTS["corpse_owner_grace_seconds"])

OpenRealm = Callable[..., Awaitable[Realm]]


@pytest.fixture
async def realms(start_server: StartServer) -> AsyncIterator[OpenRealm]:
    """Open realms (server + admin in the world); their clients close before the servers."""
    opened: list[Realm] = []

    async def open_one(**overrides: Any) -> Realm:
        realm = await open_realm(start_server, **overrides)
        opened.append(realm)
        return realm

    try:
        yield open_one
    finally:
        for realm in opened:
            await realm.aclose()


def is_state(frame: Frame) -> bool:
    return frame.get("type") == "state"


def is_reply_to(frame_id: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("type") == "reply" and f.get("re") == frame_id


def swung(frame: Frame) -> bool:
    text = text_of(frame)
    return frame.get("channel") == "combat" and text.startswith(("You hit", "You miss"))


# -- fighting --------------------------------------------------------------------------------


async def test_a_player_kills_an_npc_and_gains_exactly_its_experience(
    realms: OpenRealm, tmp_path: Path
) -> None:
    # The packaged rats flee below 20% health, and Potter's Field leads on into the zone they
    # stand in (they have no home zone): the fight could end in a chase rather than a death.
    realm = await realms(world_dir=world_with_steadfast_rats(tmp_path))
    hero, client = await realm.player()
    await give(realm, hero.id, "cane_sword", "heavy_wool_coat")
    await realm.teleport(client, room_id=ARENA)
    assert (await client.command("wield cane"))["ok"]
    assert (await client.command("wear coat"))["ok"]
    await realm.admin_says(f"goto {ARENA}")
    # admin> spawn rat_swarm   (these rats never flee nor wander: they stay)
    assert "swarm of rats" in await realm.admin_says("spawn rat_swarm")
    before = await player_record(realm.api, hero)
    rats = realm.runtime.game.world.npcs["rat_swarm"]
    expected = xp_for_kill(rats.level, before["level"], rats.xp_value)

    # hero> attack rat
    reply = await client.command("attack rat")
    assert reply["ok"], reply
    assert reply["text"] == "You attack the swarm of rats!"
    slain = await client.wait_for(is_combat("You have slain"), within=60)
    assert text_of(slain) == f"You have slain the swarm of rats. (+{expected} experience)"

    after = await player_record(realm.api, hero)
    assert after["experience"] == before["experience"] + expected
    score = await client.command("score")
    assert f"Experience {after['experience']} " in score["text"]
    # the rats are gone, leaving a corpse
    look = await client.command("look")
    assert "swarm of rats" not in str(look["text"]).split("Here:")[-1]
    assert realm.runtime.game.npcs.count_of("rat_swarm") == 0


# -- dying ---------------------------------------------------------------------------------


async def test_a_dead_player_respawns_whole_and_loots_their_own_corpse_first(
    realms: OpenRealm,
) -> None:
    realm = await realms()
    victim, vc = await realm.player()
    other, oc = await realm.player()
    things = sorted(await give(realm, victim.id, "candle_stub", "codfish", "rye_bread"))
    await realm.teleport(vc, oc, room_id=STREET)

    # admin> slay <victim>
    assert await realm.admin_says(f"slay {victim.name}") == f"You strike {victim.name} down."
    # other> get all from corpse   (at once: still inside the owner's grace)
    refused = await oc.command("get all from corpse")
    assert not refused["ok"]
    assert "not yours to loot yet" in refused["text"]

    died = await vc.wait_event("died")
    assert died["room_id"] == STREET
    assert "at the hands of" in died["text"]
    await vc.wait_for(lambda f: room_of(f) == START)
    vitals = await vc.wait_for(
        lambda f: is_state(f) and f["vitals"]["health"] == f["vitals"]["max_health"]
    )
    assert vitals["vitals"]["health"] > 0
    record = await player_record(realm.api, victim)
    assert record["room_id"] == START
    assert record["health"] == record["max_health"]
    assert await carried(realm, victim.id) == []
    # the corpse holds everything, as the REST API shows the victim's owner
    corpse = await realm.api.http.get(
        f"/api/containers/{died['corpse_id']}",
        params={"player_id": other.id},
        headers=bearer(other.token),
    )
    assert corpse.status_code == 200, corpse.text
    assert sorted(i["id"] for i in corpse.json()["items"]) == [str(t) for t in things]
    assert corpse.json()["kind"] == "corpse"

    # victim> east ; get all from corpse
    back = await vc.command("east")
    assert back["ok"]
    looted = await vc.command("get all from corpse")
    assert looted["ok"], looted
    assert sorted(i.id for i in await carried(realm, victim.id)) == things
    assert await carried(realm, other.id) == []


async def test_after_the_grace_anyone_may_loot_a_players_corpse(realms: OpenRealm) -> None:
    realm = await realms()
    victim, vc = await realm.player()
    other, oc = await realm.player()
    things = sorted(await give(realm, victim.id, "candle_stub", "codfish"))
    await realm.teleport(vc, oc, room_id=SQUARE)

    await realm.admin_says(f"slay {victim.name}")
    await vc.wait_event("died")
    await asyncio.sleep(GRACE + 0.5)
    # other> get all from corpse
    taken = await oc.command("get all from corpse")
    assert taken["ok"], taken
    assert sorted(i.id for i in await carried(realm, other.id)) == things


# -- respawning ----------------------------------------------------------------------------


async def test_a_slain_npc_respawns_after_its_delay(realms: OpenRealm, tmp_path: Path) -> None:
    world = world_with_quick_rats(tmp_path, respawn_seconds=2.0)
    realm = await realms(npc_spawning=True, world_dir=world)

    async def rats_in_cellar() -> list[str]:
        listing = await realm.admin_says("npcs rat_swarm")
        return [line for line in listing.splitlines() if line.endswith(f"in {CELLAR}")]

    async def cellar_has_rats() -> bool:
        return len(await rats_in_cellar()) == 1

    await eventually(cellar_has_rats, within=10)  # the first tick fills the world
    await realm.admin_says(f"goto {CELLAR}")
    # admin> slay rat
    assert await realm.admin_says("slay rat") == "You strike down a swarm of rats."
    killed = time.monotonic()
    assert await rats_in_cellar() == []
    assert "1 waiting to respawn" in (await realm.admin_says("npcs rat_swarm")).splitlines()[0]

    back = await realm.admin.wait_for(is_event("arrived", "a swarm of rats"), within=10)
    waited = time.monotonic() - killed
    assert back["text"] == "A swarm of rats appears."
    assert waited >= 1.5  # not before its delay (2 s, released by a 1 s step)
    assert len(await rats_in_cellar()) == 1
    assert "0 waiting to respawn" in (await realm.admin_says("npcs rat_swarm")).splitlines()[0]


# -- restarting ----------------------------------------------------------------------------


async def test_a_restart_in_mid_fight_loses_and_duplicates_nothing(realms: OpenRealm) -> None:
    realm = await realms()
    hero, client = await realm.player()
    things = sorted(await give(realm, hero.id, "cane_sword", "heavy_wool_coat", "candle_stub"))
    await realm.teleport(client, room_id=ARENA)
    assert (await client.command("wear coat"))["ok"]
    await realm.admin_says(f"goto {ARENA}")
    # an orderly (35 health) cannot fall to two bare-handed blows: nobody dies or scores here
    await realm.admin_says("spawn orderly")
    await realm.admin_says(f"heal {hero.name}")
    assert (await client.command("attack orderly"))["ok"]
    await client.wait_for(swung, within=10)
    before = await player_record(realm.api, hero)
    assert realm.runtime.combat.in_combat(uuid.UUID(hero.id))

    # the server stops gracefully in mid-fight, and starts again on the same database
    await realm.stop()
    stopped = await committed(realm.server)
    await realm.start()
    started = await committed(realm.server)

    ids = [i for i, _, _ in started.items]
    assert len(ids) == len(set(ids)), "an item exists twice"
    assert started == stopped, "start-up changed what was committed"
    assert stopped.carried_by(hero.id) == things
    assert stopped.experience[hero.id] == (before["experience"], before["level"])

    _, client = await realm.player(hero)
    after = await player_record(realm.api, hero)
    assert (after["experience"], after["level"]) == (before["experience"], before["level"])
    assert 0 < after["health"] <= after["max_health"]
    inventory = str((await client.command("inventory"))["text"])
    assert "cane sword" in inventory
    assert "stub of black candle" in inventory
    assert "heavy wool overcoat" in inventory
    assert sorted(i.id for i in await carried(realm, hero.id)) == things
    # the fight did not survive the restart
    assert not realm.runtime.combat.in_combat(uuid.UUID(hero.id))


# -- crowding ------------------------------------------------------------------------------


async def test_five_players_emptying_one_chest_at_once_share_every_item_once(
    realms: OpenRealm,
) -> None:
    realm = await realms()
    looters = [await realm.player() for _ in range(5)]
    clients = [client for _, client in looters]
    await realm.teleport(*clients, room_id=OFFICE)
    persistence = realm.runtime.persistence
    (cabinet,) = await persistence.get_containers_in_room(OFFICE)
    await fill(realm, cabinet.id, "candle_stub", "codfish", "rye_bread")
    inside = {i.id for i in await persistence.container_contents(cabinet.id)}
    assert len(inside) == cabinet.capacity == 6
    assert (await clients[0].command("open cabinet"))["ok"]
    for client in clients:
        await client.sync()

    # everyone> get all from cabinet   (all five sent before any reply is read)
    sent = await asyncio.gather(*(c.send_command("get all from cabinet") for c in clients))
    replies = await asyncio.gather(
        *(c.wait_for(is_reply_to(fid)) for c, fid in zip(clients, sent, strict=True))
    )

    hauls = [[i.id for i in await carried(realm, who.id)] for who, _ in looters]
    everything = [item for haul in hauls for item in haul]
    assert len(everything) == len(inside)
    assert set(everything) == inside
    assert await persistence.container_contents(cabinet.id) == []
    for reply, haul in zip(replies, hauls, strict=True):
        if haul:
            assert reply["ok"] and "from a steel filing cabinet" in reply["text"], reply
        else:
            assert not reply["ok"], reply


# -- the tick ------------------------------------------------------------------------------


async def test_the_tick_keeps_running_while_players_fight_and_talk(realms: OpenRealm) -> None:
    rate = 10.0
    realm = await realms(tick_rate=rate)
    players = [await realm.player() for _ in range(4)]
    clients = [client for _, client in players]
    await realm.teleport(*clients, room_id=ARENA)
    await realm.admin_says(f"goto {ARENA}")
    for npc in ("orderly", "orderly", "fisherman", "sexton", "patient", "rat_swarm"):
        await realm.admin_says(f"spawn {npc}")
    for client, target in zip(clients, ("orderly", "fisherman", "sexton", "rat"), strict=True):
        assert (await client.command(f"attack {target}"))["ok"]

    async def chatter(client: GameClient, until: float) -> int:
        done = 0
        lines = ("look", "score", "say The fog is thick tonight.", "inventory", "who")
        while time.monotonic() < until:
            await client.command(lines[done % len(lines)])
            done += 1
            await asyncio.sleep(0.05)
        return done

    first = await realm.api.admin_stats()
    began = time.monotonic()
    sent = await asyncio.gather(*(chatter(c, began + 5.0) for c in clients))
    last = await realm.api.admin_stats()
    elapsed = time.monotonic() - began

    ticks = last["extra"]["ticks"] - first["extra"]["ticks"]
    assert sum(sent) >= 4 * 20, sent  # the players really were busy
    # Liveness, not speed: the tick went on running all through the fighting and talking (a tick
    # blocked behind the players would make none). How close it keeps to its rate is measured
    # by bench/npc_tick.py, not asserted here, where a loaded machine would make it flaky.
    assert ticks >= 0.2 * rate * elapsed, (ticks, elapsed)
    assert last["extra"]["tick_overruns"] >= first["extra"]["tick_overruns"]
    # admin> tick
    report = await realm.admin_says("tick")
    assert report.startswith("Ticks: ") and "p99" in report
    # admin> tick reset
    assert await realm.admin_says("tick reset") == "Tick durations forgotten; counting afresh."
