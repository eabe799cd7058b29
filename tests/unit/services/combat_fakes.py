"""Test doubles for combat tests: an in-memory unit of work with commit and rollback over a
tiny store, a small world with a crypt, a chapel (safe) and an arena (PvP), and a Game wired
from fakes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kadath.domain import events
from kadath.domain.corpse import CorpseRules
from kadath.domain.errors import DatabaseUnavailable
from kadath.domain.experience import level_for_xp
from kadath.domain.item import Container, InInventory, ItemInstance, Location, OnFloor
from kadath.domain.npc import NpcInstance
from kadath.domain.player import Player
from kadath.domain.rng import Rng
from kadath.domain.stats import MAX_LUCIDITY, Stats
from kadath.domain.world import (
    Direction,
    ItemKind,
    ItemPrototype,
    LootEntry,
    NpcDefinition,
    NpcKind,
    Room,
    World,
    Zone,
)
from kadath.persistence.repositories.experience import ExperienceGain
from kadath.services.chat import ChatService
from kadath.services.clock import FakeClock
from kadath.services.containers import CorpseGuard
from kadath.services.events import LocalEventBus
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop
from kadath.services.messenger import FakeMessenger
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber

E, W = Direction.EAST, Direction.WEST
ITEMS = {
    "razor": ItemPrototype(
        "razor",
        "a straight razor",
        "Sharp.",
        ("razor",),
        ItemKind.WEAPON,
        slot="wield",
        damage=(2, 5),
    ),
    "coat": ItemPrototype(
        "coat", "an oilskin coat", "Stiff.", ("coat",), ItemKind.ARMOR, slot="body", armor=3
    ),
    "coin": ItemPrototype("coin", "a silver coin", "Worn.", ("coin",)),
    "bone": ItemPrototype("bone", "a gnawed bone", "Ugh.", ("bone",)),
}


def build_world() -> World:
    def room(rid: str, exits: dict[Direction, str], *flags: str) -> Room:
        return Room(rid, "town", rid.title(), "A place.", exits=exits, flags=frozenset(flags))

    rooms = {
        "chapel": room("chapel", {E: "crypt"}, "safe"),
        "crypt": room("crypt", {W: "chapel", E: "hall"}),
        "hall": room("hall", {W: "crypt"}),
        "arena": room("arena", {}, "pvp"),
        "cell": room("cell", {}),
    }
    return World({"town": Zone("town", "Town", "")}, rooms, ITEMS, {}, {}, (), "chapel")


def ghoul_definition(**fields: Any) -> NpcDefinition:
    values: dict[str, Any] = {
        "id": "ghoul",
        "name": "a ghoul",
        "description": "Hungry.",
        "keywords": ("ghoul",),
        "kind": NpcKind.AGGRESSIVE,
        "level": 2,
        "health": 10,
        "stats": {"strength": 10, "dexterity": 10},
        "xp_value": 50,
        "damage": (1, 4),
        "loot": (LootEntry("bone", 1.0, 2),),
    }
    values.update(fields)
    return NpcDefinition(**values)


def player_named(name: str, room: str = "crypt", **fields: Any) -> Player:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": uuid.uuid4(),
        "name": name,
        "room_id": room,
        "respawn_room_id": "chapel",
        "stats": Stats(12, 10, 10, 10, 10, 10),
        "health": 20,
        "max_health": 20,
        "profession_id": 1,
        "lucidity": 80,
    }
    values.update(fields)
    return Player(**values)


@dataclass
class Tables:
    """Rows as plain objects: the committed 'database', or one unit of work's view of it."""

    players: dict[uuid.UUID, Player] = field(default_factory=dict)
    items: dict[uuid.UUID, ItemInstance] = field(default_factory=dict)
    containers: dict[uuid.UUID, Container] = field(default_factory=dict)

    def copy(self) -> Tables:
        """A private copy: players are mutable rows; items and containers are frozen."""
        players = {k: replace(v, extra=dict(v.extra)) for k, v in self.players.items()}
        return Tables(players, dict(self.items), dict(self.containers))

    def at(self, location: Location) -> list[ItemInstance]:
        return [i for i in self.items.values() if i.location == location]


@dataclass
class FakeStore(Tables):
    """The committed state, what the tests arrange and assert on, and counts that matter."""

    commits: int = 0
    rollbacks: int = 0
    item_queries: int = 0
    failing: set[str] = field(default_factory=set)
    failed_callbacks: list[Exception] = field(default_factory=list)

    def trip(self, operation: str) -> None:
        """Fail once, the way a lost connection would, if the test asked for it ("commit" too)."""
        if operation in self.failing:
            self.failing.discard(operation)
            raise DatabaseUnavailable("The database does not answer.")

    def add_player(self, player: Player) -> None:
        self.players[player.id] = replace(player, stats=player.stats, extra=dict(player.extra))

    def give(self, player: Player, prototype_id: str, worn_slot: str | None = None) -> ItemInstance:
        item = ItemInstance(uuid.uuid4(), prototype_id, InInventory(player.id), worn_slot)
        self.items[item.id] = item
        return item

    def merge(self, before: Tables, after: Tables) -> None:
        """Commit: apply the rows one unit of work changed since it began (row-level, so two
        units of work that touched different rows both keep their writes)."""
        for name in ("players", "items", "containers"):
            was, now, committed = getattr(before, name), getattr(after, name), getattr(self, name)
            for key in was.keys() - now.keys():
                committed.pop(key, None)
            for key, row in now.items():
                if key not in was or was[key] != row:
                    committed[key] = row


class _Health:
    def __init__(self, store: FakeStore, rows: Tables) -> None:
        self._s, self._t = store, rows

    async def damage_player(self, player: Player, amount: int, damage_type: str) -> int:
        self._s.trip("damage_player")
        row = self._t.players[player.id]
        row.health = max(0, row.health - amount)
        return row.health

    async def set_health(self, player_id: uuid.UUID, health: int) -> int:
        row = self._t.players[player_id]
        row.health = min(health, row.max_health)
        return row.health


class _Experience:
    def __init__(self, store: FakeStore, rows: Tables) -> None:
        self._s, self._t = store, rows

    async def gain_experience(self, player: Player, amount: int, source: str) -> ExperienceGain:
        row = self._t.players[player.id]
        old = row.level
        row.experience += amount
        row.level = max(old, level_for_xp(row.experience))
        return ExperienceGain(row.experience, old, row.level, row.max_health, row.health)

    async def update_player_stat_field(
        self, player_id: uuid.UUID, name: str, delta: int, reason: str
    ) -> int:
        assert name == "lucidity"
        self._s.trip("update_player_stat_field")
        row = self._t.players[player_id]
        row.lucidity = max(0, min(MAX_LUCIDITY, row.lucidity + delta))
        return row.lucidity


class _Items:
    def __init__(self, store: FakeStore, rows: Tables) -> None:
        self._s, self._t = store, rows

    async def items_at(self, location: Location) -> list[ItemInstance]:
        self._s.item_queries += 1
        return self._t.at(location)

    async def items_at_floor(self, room_id: str) -> list[ItemInstance]:
        return self._t.at(OnFloor(room_id))

    async def move_all(self, source: Location, destination: Location) -> int:
        moving = self._t.at(source)
        for item in moving:
            self._t.items[item.id] = replace(item, location=destination, worn_slot=None)
        self._s.trip("move_all")
        return len(moving)

    async def create_items(self, prototype_ids: list[str], location: Location) -> int:
        for proto in prototype_ids:
            item = ItemInstance(uuid.uuid4(), proto, location)
            self._t.items[item.id] = item
        return len(prototype_ids)


class _Containers:
    def __init__(self, store: FakeStore, rows: Tables) -> None:
        self._s, self._t = store, rows

    async def create_container(self, **fields: Any) -> Container:
        self._s.trip("create_container")
        container = Container(id=uuid.uuid4(), **fields)
        self._t.containers[container.id] = container
        return container

    async def get_containers_in_room(self, room_id: str) -> list[Container]:
        return [c for c in self._t.containers.values() if c.room_id == room_id]

    async def list_decayed(self, now: datetime) -> list[Container]:
        return [
            c for c in self._t.containers.values() if c.decays_at is not None and c.decays_at <= now
        ]

    async def update_container(self, container_id: uuid.UUID, *, locked: bool) -> Container:
        container = replace(self._t.containers[container_id], locked=locked)
        self._t.containers[container_id] = container
        return container

    async def delete_container(self, container_id: uuid.UUID) -> None:
        del self._t.containers[container_id]


class _Players:
    def __init__(self, store: FakeStore, rows: Tables) -> None:
        self._s, self._t = store, rows

    async def get_player_by_id(self, player_id: uuid.UUID) -> Player:
        return replace(self._t.players[player_id])  # a copy, as a fresh row would be

    async def move_player(self, player_id: uuid.UUID, room_id: str) -> None:
        self._t.players[player_id].room_id = room_id
        self._s.trip("move_player")

    async def lock_in_order(self, player_ids: object) -> None:
        self._s.trip("lock_in_order")  # row locks: nothing to hold in memory

    def standing_in(self, room_id: str) -> None:
        """The zone fence's concern (``serve --cluster``): nothing to hold in memory."""


class _Exploration:
    async def record_visit(self, player_id: uuid.UUID, room_id: str) -> bool:
        return False


AfterCommit = Callable[[], Awaitable[None]]


class FakeUnitOfWork:
    """A transaction over the store: writes go to a private copy of the rows, reach the store
    (and other units of work) only on commit, and are dropped when the block raises or the
    commit fails (``store.failing.add("commit")``). ``after_commit`` callbacks run only after a
    successful commit; one that fails is recorded in ``store.failed_callbacks`` and the others
    still run, as the real unit of work logs it and goes on."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._before: Tables | None = None
        self._rows: Tables | None = None
        self._after_commit: list[AfterCommit] = []

    async def __aenter__(self) -> FakeUnitOfWork:
        if self._rows is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        self._before = self._store.copy()
        rows = self._rows = self._before.copy()
        store = self._store
        self.health = _Health(store, rows)
        self.experience = _Experience(store, rows)
        self.items = _Items(store, rows)
        self.containers = _Containers(store, rows)
        self.players = _Players(store, rows)
        self.exploration = _Exploration()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        before, rows, callbacks = self._before, self._rows, self._after_commit
        self._before, self._rows, self._after_commit = None, None, []
        assert before is not None and rows is not None, "the unit of work is not open"
        if exc_type is not None:
            self._store.rollbacks += 1
            return
        try:
            self._store.trip("commit")
        except DatabaseUnavailable:
            self._store.rollbacks += 1
            raise
        self._store.merge(before, rows)
        self._store.commits += 1
        for callback in callbacks:
            try:
                await callback()
            except Exception as error:  # the real one logs it: the change stays committed
                self._store.failed_callbacks.append(error)

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)


@dataclass
class Arena:
    """A game built from fakes, with every event published on its bus recorded."""

    game: Game
    store: FakeStore
    messenger: FakeMessenger
    clock: FakeClock
    loop: GameLoop
    events: list[object] = field(default_factory=list)
    corpse_guard: CorpseGuard | None = None

    def enter(self, player: Player) -> Player:
        self.store.add_player(player)
        self.game.presence.enter(player, explored=set(self.game.world.rooms))
        return player

    def spawn(self, room: str = "crypt", **fields: Any) -> NpcInstance:
        definition = ghoul_definition(**fields)
        npc = NpcInstance(uuid.uuid4(), definition, room, definition.health)
        self.game.npcs.add(npc)
        return npc

    def said_to(self, player: Player) -> list[str]:
        return [
            str(f["text"])
            for kind, who, f in self.messenger.sent
            if kind == "player" and who == player.id and "text" in f
        ]

    def said_in(self, room: str) -> list[str]:
        return [
            str(f["text"])
            for kind, who, f in self.messenger.sent
            if kind == "room" and isinstance(who, tuple) and who[0] == room
        ]

    def vitals_of(self, player: Player) -> list[dict[str, Any]]:
        return [
            f["vitals"]
            for kind, who, f in self.messenger.sent
            if kind == "player" and who == player.id and f["type"] == "state"
        ]


def build_arena(rng: Rng, rules: CorpseRules | None = None) -> Arena:
    world = build_world()
    store = FakeStore()
    presence, npcs = Presence(), NpcRoster()
    messenger, bus, clock = FakeMessenger(), LocalEventBus(), FakeClock()

    def uow() -> Any:
        return FakeUnitOfWork(store)

    game = Game(
        world=world,
        presence=presence,
        npcs=npcs,
        messenger=messenger,
        bus=bus,
        clock=clock,
        rng=rng,
        uow=uow,
        reading=uow,
        rooms=RoomDescriber(world, presence, npcs, uow, rng),
        movement=MovementService(world, presence, messenger, bus, uow),
        chat=ChatService(presence, messenger, bus),
    )
    arena = Arena(game, store, messenger, clock, GameLoop())
    for kind in RECORDED:
        bus.subscribe(kind, arena.events.append)
    return arena


RECORDED = (
    events.PlayerDied,
    events.NpcKilled,
    events.CombatEnded,
    events.ExperienceGained,
    events.PlayerLeftRoom,
)
