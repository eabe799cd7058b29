"""Reloading the world files into the running game without disconnecting anyone.

The new files are loaded and checked off the loop; the swap itself (the world's contents, every
view built from them, the players and NPCs of removed rooms) runs in one loop turn with no
await inside, so no command or tick ever sees a half-reloaded world.

In a cluster every process holds the world in memory: a reload made on one is handed to
``elsewhere`` (a port the cluster node sets; None in one process), and every other process
reloads the same files (``reload_as_told``), without placing again what new rooms and
containers hold (the first process did, in the shared database)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

from kadath.domain.errors import InvalidInput
from kadath.domain.player import Player
from kadath.domain.world import World
from kadath.services import messenger as frames
from kadath.services.game import Game
from kadath.world.loader import WorldFileError, load_world

log = structlog.get_logger(__name__)


class WorldViews:
    """What is built from the world and must follow it when it changes (room indexes, NPC
    territory, spawn rules, cached room contents): each registers a refresher."""

    def __init__(self) -> None:
        self.refreshers: list[Callable[[], None]] = []

    def refresh(self) -> None:
        for refresher in self.refreshers:
            refresher()


@dataclass
class ReloadReport:
    """What a reload changed, for the admin who ran it."""

    added: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    moved: list[str] = field(default_factory=list)  # players taken out of removed rooms
    despawned: int = 0
    kept_items: dict[str, int] = field(default_factory=dict)  # removed prototype → instances
    stranded_items: int = 0  # on the floors (or in containers) of removed rooms
    placed: int = 0  # items and containers new rooms brought

    def lines(self) -> list[str]:
        lines = ["The world is reloaded."]
        for label, counts in (("added", self.added), ("removed", self.removed)):
            if counts:
                lines.append(f"  {label}: " + _counted(counts))
        if self.changed:
            lines.append("  changed: " + _counted(self.changed))
        if self.moved:
            lines.append("  moved to safety: " + ", ".join(sorted(self.moved)))
        if self.despawned:
            lines.append(f"  NPCs despawned: {self.despawned}")
        for prototype, count in sorted(self.kept_items.items()):
            lines.append(
                f"  kept: {count} item(s) of removed prototype '{prototype}' still exist; "
                "the prototype stays in memory until it is restored to items.yaml or they are gone"
            )
        if self.stranded_items:
            lines.append(
                f"  kept: {self.stranded_items} item(s) lie in removed rooms; "
                "they are back in play if the rooms return"
            )
        if self.placed:
            lines.append(f"  placed: {self.placed} item(s) in new rooms and containers")
        return lines


ItemCounter = Callable[[Sequence[str]], Awaitable[dict[str, int]]]
RoomItemCounter = Callable[[Sequence[str]], Awaitable[int]]


@dataclass(frozen=True)
class ReloadPorts:
    """What a reload reaches beyond the game: the database and the NPC spawner."""

    count_items: ItemCounter  # instances per prototype id
    count_in_rooms: RoomItemCounter  # items on the floors and in the containers of rooms
    seed: Callable[[], Awaitable[int]]  # place what new rooms and containers hold
    despawn: Callable[[uuid.UUID], object]


class ReloadElsewhere(Protocol):
    """The other processes of a cluster, as the reloader sees them."""

    async def reloaded(self) -> None:
        """Have every other process reload the world files (``reload_as_told``)."""
        ...


class WorldReloader:
    def __init__(self, game: Game, directory: Path, views: WorldViews, ports: ReloadPorts) -> None:
        self._game, self._directory, self._views, self._ports = game, directory, views, ports
        self._lock = asyncio.Lock()
        self.results: Counter[str] = Counter()  # "ok" and "refused", for /metrics
        self.elsewhere: ReloadElsewhere | None = None  # set by ``kadath serve --cluster``

    async def reload(self) -> ReloadReport:
        """Re-read the files and apply them (and, in a cluster, have every other process do
        so). Raises InvalidInput (nothing changed) with the loader's file-and-field message
        when they are refused."""
        report = await self._reload(seed=True)
        if self.elsewhere is not None:
            await self.elsewhere.reloaded()
        return report

    async def reload_as_told(self) -> ReloadReport:
        """Another process of a cluster reloaded the world files: reload them here, leaving
        the database as that one left it. Raises InvalidInput as ``reload``."""
        return await self._reload(seed=False)

    async def _reload(self, *, seed: bool) -> ReloadReport:
        async with self._lock:
            try:
                fresh = await asyncio.to_thread(load_world, self._directory)
            except WorldFileError as exc:
                self.results["refused"] += 1
                log.warning("world_reload_refused", problems=len(exc.problems))
                raise InvalidInput(f"The world files are refused; nothing changed.\n{exc}") from exc
            gone = [p for p in self._game.world.items if p not in fresh.items]
            counts = await self._ports.count_items(gone) if gone else {}
            vanishing = [r for r in self._game.world.rooms if r not in fresh.rooms]
            stranded = await self._ports.count_in_rooms(vanishing) if vanishing else 0
            report, moved = self._swap(fresh, {p: n for p, n in counts.items() if n})
            report.stranded_items = stranded
            self.results["ok"] += 1
        if seed:
            report.placed = await self._ports.seed()
        await self._show_rooms(moved)
        log.info("world_reloaded", **{k: sum(v.values()) for k, v in _parts(report).items()})
        return report

    def _swap(self, fresh: World, kept: dict[str, int]) -> tuple[ReloadReport, list[Player]]:
        """Everything in one loop turn: no await in here."""
        world = self._game.world
        for prototype in kept:  # never strand an existing item without its prototype
            fresh.items[prototype] = world.items[prototype]
        report = _compare(world, fresh)
        report.kept_items = kept
        removed_rooms = set(world.rooms) - set(fresh.rooms)
        world.adopt(fresh)
        self._views.refresh()
        moved = self._rescue(removed_rooms)
        report.moved = [p.name for p in moved]
        report.despawned = self._cull()
        return report, moved

    def _rescue(self, removed_rooms: set[str]) -> list[Player]:
        game = self._game
        start = game.world.rooms[game.world.start_room_id]
        moved: list[Player] = []
        for room_id in removed_rooms:
            for player in game.presence.in_room(room_id):
                game.presence.move(player, start.id)
                moved.append(player)
                text = (
                    "The place where you stood unravels like a dream on waking. "
                    f"You find yourself in {start.name}."
                )
                game.messenger.to_player(player.id, frames.message("system", text))
                game.messenger.to_room(
                    start.id,
                    frames.event("arrived", f"{player.name} stumbles in.", name=player.name),
                    exclude=[player.id],
                )
        return moved

    def _cull(self) -> int:
        """Despawn NPCs whose definition or room is gone; the others take the new definition."""
        world, despawned = self._game.world, 0
        for npc in self._game.npcs.all():
            definition = world.npcs.get(npc.definition.id)
            if definition is None or npc.room_id not in world.rooms:
                self._ports.despawn(npc.id)
                despawned += 1
                continue
            npc.definition = definition
            npc.health = min(npc.health, definition.health)
        return despawned

    async def _show_rooms(self, players: list[Player]) -> None:
        for player in players:
            if player.id in self._game.presence:
                view, text = await self._game.rooms.describe(player)
                self._game.messenger.to_player(player.id, frames.room(view, text))


def _compare(old: World, new: World) -> ReloadReport:
    report = ReloadReport()
    for label, before, after in (
        ("zones", old.zones, new.zones),
        ("rooms", old.rooms, new.rooms),
        ("items", old.items, new.items),
        ("containers", old.containers, new.containers),
        ("npcs", old.npcs, new.npcs),
        ("help topics", old.help, new.help),
    ):
        report.added[label] = len(after.keys() - before.keys())
        report.removed[label] = len(before.keys() - after.keys())
        report.changed[label] = sum(
            1 for k in before.keys() & after.keys() if before[k] != after[k]
        )
    report.changed["spawn rules"] = int(old.spawns != new.spawns)
    for counts in (report.added, report.removed, report.changed):
        for key in [k for k, v in counts.items() if not v]:
            del counts[key]
    return report


def _counted(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {label}" for label, n in counts.items())


def _parts(report: ReloadReport) -> dict[str, Counter[str]]:
    return {"added": report.added, "removed": report.removed, "changed": report.changed}
