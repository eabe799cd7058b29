"""Helpers for the living-world tests: a server with an admin in the world, items handed out
through the running server's persistence, database read-backs, and bounded polling.

Builds on ``kadath_e2e`` (the harness); everything here is setup or read-back: what is being
tested always goes through WebSocket commands and the REST API."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from kadath_e2e import (
    Api,
    Character,
    Frame,
    GameClient,
    RunningServer,
    StartServer,
    bearer,
    new_account,
    new_character,
)
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.domain.item import InContainer, InInventory, ItemInstance
from kadath.persistence.models import ItemRow, PlayerRow
from kadath.world import DEFAULT_WORLD_DIR

# Quick corpses, no spawn rules (every NPC is one a test made), a tick fast enough to matter.
WORLD_DEFAULTS: dict[str, Any] = {
    "npc_spawning": False,
    "corpse_owner_grace_seconds": 3.0,
    "corpse_decay_seconds": 60.0,
    "tick_rate": 20.0,
    "combat_round_seconds": 0.5,  # quick fights, so a loaded machine still ends them in time
}
CELLAR = "arkham.boarding_house_cellar"


@dataclass
class Realm:
    """A running server, an API client whose ``admin`` is the first (admin) account, and that
    admin's character connected to the game."""

    server: RunningServer
    api: Api
    admin: GameClient
    admin_character: Character
    clients: list[GameClient] = field(default_factory=list)

    @property
    def runtime(self) -> Any:
        return self.server.app.state.runtime

    async def player(self, character: Character | None = None) -> tuple[Character, GameClient]:
        """A connected player (a new character on a new account when not given)."""
        character = character or await new_character(self.api)
        client = await GameClient.open(self.server.ws_url, character.name)
        self.clients.append(client)
        await client.hello(character.token, character.name)
        return character, client

    async def admin_says(self, text: str, within: float = 10.0) -> str:
        """Run an admin command; returns its reply text (asserting it succeeded)."""
        reply = await self.admin.command(text, within)
        assert reply["ok"], (text, reply)
        return str(reply["text"])

    async def teleport(self, *clients: GameClient, room_id: str) -> None:
        """Move players to a room (admin ``teleport``) and wait until each has seen it."""
        for client in clients:
            await self.admin_says(f"teleport {client.name} {room_id}")
            await client.wait_for(lambda f: _room_id(f) == room_id)
            await client.sync()

    async def stop(self) -> None:
        """Stop the server gracefully, players still connected (as SIGTERM would find them)."""
        await self.server.stop()
        await self.close_clients()

    async def start(self) -> None:
        """Start the server again on the same database and bring the admin back in; other
        players reconnect with ``player(character)``."""
        await self.server.start()
        admin = self.api.admin
        await self.api.aclose()
        self.api = Api.to(self.server.base_url)
        self.api.admin = admin
        _, self.admin = await self.player(self.admin_character)

    async def close_clients(self) -> None:
        for client in [*self.clients]:
            with contextlib.suppress(Exception):
                await client.close()
        self.clients.clear()

    async def aclose(self) -> None:
        await self.close_clients()
        await self.api.aclose()


async def open_realm(start_server: StartServer, **overrides: Any) -> Realm:
    """Start a server with ``WORLD_DEFAULTS`` (and ``overrides``), register the admin account
    first, and bring its character into the world."""
    server = await start_server(**{**WORLD_DEFAULTS, **overrides})
    api = Api.to(server.base_url)
    api.admin = await new_account(api, "keeper")
    assert api.admin.is_admin, "the first account of a fresh server must be the admin"
    character = await new_character(api, api.admin)
    client = await GameClient.open(server.ws_url, character.name)
    await client.hello(character.token, character.name)
    return Realm(server, api, client, character, [client])


# -- items, straight through the running server's persistence (setup and read-back) ----------
async def give(realm: Realm, player_id: str, *prototypes: str) -> list[uuid.UUID]:
    persistence = realm.runtime.persistence
    made = [await persistence.create_item(p, InInventory(uuid.UUID(player_id))) for p in prototypes]
    return [item.id for item in made]


async def fill(realm: Realm, container_id: uuid.UUID, *prototypes: str) -> list[uuid.UUID]:
    persistence = realm.runtime.persistence
    made = [await persistence.create_item(p, InContainer(container_id)) for p in prototypes]
    return [item.id for item in made]


async def carried(realm: Realm, player_id: str) -> list[ItemInstance]:
    items: list[ItemInstance] = await realm.runtime.persistence.items_at(
        InInventory(uuid.UUID(player_id))
    )
    return items


@dataclass(frozen=True)
class Committed:
    """What the database holds, read on an engine of its own (the server may be down)."""

    items: list[tuple[uuid.UUID, str, str]]  # (id, prototype, where), sorted
    experience: dict[str, tuple[int, int]]  # player id -> (experience, level)

    def carried_by(self, player_id: str) -> list[uuid.UUID]:
        return sorted(i for i, _, where in self.items if where == player_id)


async def committed(server: RunningServer) -> Committed:
    engine = create_async_engine(server.settings.resolved_database_url())
    try:
        async with engine.connect() as conn:
            items = (
                await conn.execute(
                    sa.select(
                        ItemRow.id,
                        ItemRow.prototype_id,
                        ItemRow.owner_player_id,
                        ItemRow.container_id,
                        ItemRow.room_id,
                    )
                )
            ).all()
            players = (
                await conn.execute(sa.select(PlayerRow.id, PlayerRow.experience, PlayerRow.level))
            ).all()
    finally:
        await engine.dispose()
    return Committed(
        sorted((r[0], r[1], str(r[2] or r[3] or r[4])) for r in items),
        {str(r[0]): (int(r[1]), int(r[2])) for r in players},
    )


async def player_record(api: Api, character: Character) -> Frame:
    """``GET /api/players/{id}`` as the character's owner."""
    response = await api.http.get(f"/api/players/{character.id}", headers=bearer(character.token))
    assert response.status_code == 200, response.text
    body: Frame = response.json()
    return body


# -- waiting ---------------------------------------------------------------------------------
async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, every: float = 0.2
) -> float:
    """Poll ``check`` until it is true; returns the seconds it took. Fails after ``within``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(every)
    return time.monotonic() - started


def text_of(frame: Frame) -> str:
    return str(frame.get("text", ""))


def is_combat(fragment: str) -> Callable[[Frame], bool]:
    """A combat message containing ``fragment``."""

    def match(frame: Frame) -> bool:
        return (
            frame.get("type") == "message"
            and frame.get("channel") == "combat"
            and fragment in text_of(frame)
        )

    return match


def _room_id(frame: Frame) -> str | None:
    if frame.get("type") not in ("room", "welcome"):
        return None
    room = frame.get("room") or {}
    return str(room.get("id")) if isinstance(room, dict) else None


def room_of(frame: Frame) -> str | None:
    return _room_id(frame)


# -- a world of our own ------------------------------------------------------------------------
def world_with_quick_rats(directory: Path, respawn_seconds: float) -> Path:
    """A copy of the packaged world where rat swarms respawn after ``respawn_seconds`` and the
    boarding-house cellar always has one."""
    target = directory / "world"
    shutil.copytree(DEFAULT_WORLD_DIR, target)
    npcs_file = target / "npcs.yaml"
    npcs = yaml.safe_load(npcs_file.read_text())
    for npc in npcs["npcs"]:
        if npc["id"] == "rat_swarm":
            npc["respawn_seconds"] = respawn_seconds
    npcs_file.write_text(yaml.safe_dump(npcs, sort_keys=False))
    zone_file = target / "zones" / "arkham.yaml"
    zone = yaml.safe_load(zone_file.read_text())
    for rule in zone["spawns"]:
        if rule["npc"] == "rat_swarm" and rule.get("room") == CELLAR:
            rule["chance"], rule["required"] = 1.0, True
    zone_file.write_text(yaml.safe_dump(zone, sort_keys=False))
    return target


def world_with_steadfast_rats(directory: Path) -> Path:
    """A copy of the packaged world where rat swarms never flee and never wander: a fight with
    one ends in a death, never a chase."""
    target = directory / "steadfast-world"
    shutil.copytree(DEFAULT_WORLD_DIR, target)
    npcs_file = target / "npcs.yaml"
    npcs = yaml.safe_load(npcs_file.read_text())
    for npc in npcs["npcs"]:
        if npc["id"] == "rat_swarm":
            npc["flee_below"], npc["wander"] = 0.0, {"chance": 0.0, "min_interval": 20}
    npcs_file.write_text(yaml.safe_dump(npcs, sort_keys=False))
    return target
