"""Moderation and world reloads across the processes of ``kadath serve --cluster`` (real
subprocesses): a mute, a freeze, a ban, a kick, a role and a report made where the moderator
is served reach the characters (and moderators) in play on the other process; a ``reload
world`` reloads every process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kadath_cluster import PG_URL, cluster_config, eventually, migrated_database, private_nats
from kadath_serve import (
    WAIT,
    WORLD,
    Client,
    Cluster,
    in_play,
    starting_cluster,
    walk,
)

from kadath.cluster.moderation import _decode, _encode
from kadath.cluster.zones import zone_statuses
from kadath.domain.account import Role
from kadath.domain.moderation import Sanction, SanctionKind
from kadath.services.moderation import AccountNews
from kadath.world import DEFAULT_WORLD_DIR

pytestmark = [pytest.mark.postgres, pytest.mark.fault]
# east, then north, from the start room: the first room of another zone (held by alpha).
ACROSS_ROOM = "miskatonic.campus_gate"
ULTHAR = """\
zone:
  id: ulthar
  name: Ulthar
  description: A town beyond the river Skai where no man may kill a cat.

rooms:
  - id: ulthar.temple
    name: The Temple of the Elder Ones
    description: A round tower of ivy-grown stone on the hill, where the cats gather.
    exits: {}
"""


def system(text: str) -> object:
    return lambda f: f.get("type") == "message" and text in str(f.get("text"))


@contextlib.asynccontextmanager
async def admin_and_player(
    cluster: Cluster, database_url: str
) -> AsyncIterator[tuple[Client, Client, str]]:
    """An admin served by beta (the start zone) and a player served by alpha (it walked into
    alpha's zone), both connected to beta; the player's name. Both closed at exit."""
    beta = cluster.beta.ws_url
    async with in_play(cluster.http, beta, beta, admin_in=database_url) as played:
        [(admin, _), (player, name)] = played
        await walk(player, "east", "north", ACROSS_ROOM)
        yield admin, player, name


async def test_a_mute_and_a_freeze_made_on_one_process_hold_on_the_other(
    serve_cluster: Cluster, database_url: str
) -> None:
    async with admin_and_player(serve_cluster, database_url) as (admin, player, name):
        assert (await admin.command(f"mute {name} 10m spam"))["ok"] is True
        await player.wait_for(system("You have been muted"))
        for speech in ("ooc Can you hear me?", "say Can you hear me?"):
            refused = await player.command(speech)
            assert refused["ok"] is False and "You are muted" in refused["text"], refused
        assert (await admin.command(f"unmute {name}"))["ok"] is True
        await player.wait_for(system("You may speak again."))
        assert (await player.command("ooc Thank you."))["ok"] is True

        assert (await admin.command(f"freeze {name} wait"))["ok"] is True
        await player.wait_for(system("You have been frozen"))
        refused = await player.command("south")
        assert refused["ok"] is False and "frozen" in refused["text"], refused
        assert (await admin.command(f"unfreeze {name}"))["ok"] is True
        await player.wait_for(system("You are no longer frozen."))
        assert (await player.command("south"))["ok"] is True


async def test_a_ban_made_on_one_process_disconnects_the_account_on_the_other(
    serve_cluster: Cluster, database_url: str
) -> None:
    async with admin_and_player(serve_cluster, database_url) as (admin, player, name):
        assert (await admin.command(f"ban {name} 1h cheating"))["ok"] is True
        code = await player.closed()
        assert code == 4403, code
        assert any(
            f.get("type") == "event" and f.get("event") == "kicked" for f in player.received
        ), player.received[-3:]


async def test_a_role_granted_and_a_report_made_on_one_process_reach_the_other(
    serve_cluster: Cluster, database_url: str
) -> None:
    async with admin_and_player(serve_cluster, database_url) as (admin, player, name):
        assert (await admin.command(f"role {name} moderator"))["ok"] is True
        await player.wait_for(system("made you a moderator"))
        # The new moderator, served by alpha, reads a report made on beta.
        assert (await admin.command(f"report {name} testing the queue"))["ok"] is True
        await player.wait_for(system("[Report #"))
        joined = await player.command("channel join builders")
        assert joined["ok"] is True, joined


async def test_a_kick_reaches_a_character_in_play_on_the_other_process(
    serve_cluster: Cluster, database_url: str
) -> None:
    async with admin_and_player(serve_cluster, database_url) as (admin, player, name):
        kicked = await admin.command(f"kick {name} enough")
        assert kicked == {**kicked, "ok": True, "text": f"{name} is kicked."}
        assert await player.closed() == 4403
        nobody = await admin.command("kick Nyarlathotep")
        assert nobody["ok"] is False and "Nobody called" in nobody["text"], nobody


def test_account_news_reads_back_as_it_was_written() -> None:
    when = datetime(2026, 1, 1, 12, tzinfo=UTC)
    account = uuid.uuid4()
    sanction = Sanction(uuid.uuid4(), account, SanctionKind.MUTE, "spam", when, when)
    for news in (
        AccountNews(account, recorded=sanction, tell="You have been muted."),
        AccountNews(account, recorded=replace(sanction, ends_at=None)),
        AccountNews(account, lifted=SanctionKind.FREEZE, role=Role.BUILDER),
        AccountNews(account, disconnect="Bye.", player_id=uuid.uuid4()),
        AccountNews(account, granted="arkham", revoked="miskatonic"),
    ):
        assert _decode(json.loads(json.dumps(_encode(news)))) == news
    with pytest.raises(ValueError, match="zone"):
        _decode(
            {
                **_encode(AccountNews(account, recorded=sanction)),
                "recorded": {
                    "id": str(sanction.id),
                    "kind": "mute",
                    "reason": "",
                    "created_at": "2026-01-01T12:00:00",
                    "ends_at": None,
                },
            }
        )


async def test_a_world_reload_on_one_process_reloads_every_process(tmp_path: Path) -> None:
    """Both processes read one world directory; a builder served by beta changes a room of
    alpha's zone in the files, adds a zone, and reloads: a player served by alpha sees the
    change, and a process of the cluster takes the new zone (it was held by nobody). This
    cluster has a database of its own: on the module's, its leases' epochs would fence off
    the module's cluster (``serve_cluster``), whose later tests would then be told the world
    is reorganising until it took its zones back."""
    world = tmp_path / "world"
    shutil.copytree(DEFAULT_WORLD_DIR, world)
    async with (
        migrated_database(PG_URL) as database_url,
        private_nats(tmp_path) as nats,
        starting_cluster(database_url, nats.url, tmp_path, KADATH_WORLD_DIR=str(world)) as c,
        admin_and_player(c, database_url) as (admin, player, _),
    ):
        zone = world / "zones" / "miskatonic.yaml"
        text = zone.read_text(encoding="utf-8")
        assert "name: The University Gate" in text
        zone.write_text(text.replace("The University Gate", "The Gate of Dreams"), "utf-8")
        (world / "zones" / "ulthar.yaml").write_text(ULTHAR, "utf-8")
        reloaded = await admin.command("reload world")
        assert reloaded["ok"] is True and "reloaded" in reloaded["text"], reloaded

        async def reloaded_on_alpha() -> bool:
            return bool(c.alpha.events("world_reloaded"))

        await eventually(reloaded_on_alpha, WAIT, "alpha reloads the world")
        look = await player.command("look")
        assert look["ok"] is True
        await player.wait_for(
            lambda f: f.get("type") == "room" and f["room"]["name"] == "The Gate of Dreams"
        )
        config = cluster_config(database_url, nats.url, "test")

        async def ulthar_held() -> bool:
            statuses = await zone_statuses(config, ["ulthar"])
            return any(s.zone == "ulthar" and s.owner in ("alpha", "beta") for s in statuses)

        await eventually(ulthar_held, WAIT, "a process takes the zone the reload added")


async def test_a_zone_granted_on_one_process_may_be_built_on_the_other(
    serve_cluster: Cluster, database_url: str
) -> None:
    zone = WORLD.rooms[ACROSS_ROOM].zone_id
    async with admin_and_player(serve_cluster, database_url) as (admin, player, name):
        assert (await admin.command(f"role {name} builder"))["ok"] is True
        await player.wait_for(system("made you a builder"))
        refused = await player.command("describe A gate of red sandstone.")
        assert refused["ok"] is False, refused
        assert (await admin.command(f"grant {name} {zone}"))["ok"] is True
        described = await player.command("describe A gate of red sandstone.")
        for _ in range(20):  # the grant travels beside the reply: ask again until it is there
            if described["ok"] is True:
                break
            await asyncio.sleep(0.25)
            described = await player.command("describe A gate of red sandstone.")
        assert described["ok"] is True, described
        assert (await admin.command(f"revoke {name} {zone}"))["ok"] is True
        for _ in range(20):
            described = await player.command("describe A gate of black basalt.")
            if described["ok"] is False:
                break
            await asyncio.sleep(0.25)
        assert described["ok"] is False, described
