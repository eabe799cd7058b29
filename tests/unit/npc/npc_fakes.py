"""Test doubles for NPC tests: a small world with NPCs, a Game built from fakes (the unit of
work refuses: NPC logic must not need the database), a fake combat feature."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from kadath.domain.npc import NpcInstance
from kadath.domain.player import Player
from kadath.domain.rng import RandomRng, Rng
from kadath.domain.stats import Stats
from kadath.domain.world import (
    Dialogue,
    Direction,
    NpcDefinition,
    NpcKind,
    Room,
    SpawnRule,
    World,
    Zone,
)
from kadath.services.chat import ChatService
from kadath.services.clock import FakeClock
from kadath.services.events import LocalEventBus
from kadath.services.game import Game
from kadath.services.messenger import FakeMessenger
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber
from kadath.services.unit_of_work import UnitOfWork

N, S, E, W, U, D = (
    Direction.NORTH,
    Direction.SOUTH,
    Direction.EAST,
    Direction.WEST,
    Direction.UP,
    Direction.DOWN,
)


def _room(rid: str, exits: dict[Direction, str], *flags: str) -> Room:
    zone = rid.split(".")[0]
    return Room(rid, zone, rid.title(), "A place.", exits=exits, flags=frozenset(flags))


def _npc(npc_id: str, name: str, kind: NpcKind, **fields: object) -> NpcDefinition:
    return NpcDefinition(
        id=npc_id,
        name=name,
        description=f"{name}, described.",
        keywords=(npc_id,),
        kind=kind,
        level=1,
        health=20,
        stats={},
        xp_value=5,
        damage=(1, 2),
        **fields,  # type: ignore[arg-type]
    )


def build_npc_world(spawns: tuple[SpawnRule, ...] = ()) -> World:
    """Town (square - street - alley) joined to a yard (gate, crypt below), with three NPCs."""
    rooms = {
        "town.square": _room("town.square", {E: "town.street"}, "safe"),
        "town.street": _room("town.street", {W: "town.square", N: "town.alley", E: "yard.gate"}),
        "town.alley": _room("town.alley", {S: "town.street"}),
        "yard.gate": _room("yard.gate", {W: "town.street", D: "yard.crypt"}),
        "yard.crypt": _room("yard.crypt", {U: "yard.gate"}),
    }
    npcs = {
        "ghoul": _npc(
            "ghoul",
            "a hunched ghoul",
            NpcKind.AGGRESSIVE,
            home_zone="yard",
            wander_chance=0.5,
            wander_min_interval=10.0,
            respawn_seconds=60.0,
            dialogue=Dialogue(emotes=("gnaws on a bone.",)),
        ),
        "librarian": _npc(
            "librarian",
            "Dr. Armitage",
            NpcKind.QUESTGIVER,
            home_zone="town",
            dialogue=Dialogue(
                greeting='"Keep your voice down."',
                keywords={"necronomicon": '"A dreadful book."', "silver key": '"Lost, alas."'},
                emotes=("polishes his pince-nez.",),
            ),
        ),
        "clerk": _npc(
            "clerk",
            "a clerk",
            NpcKind.SHOPKEEPER,
            dialogue=Dialogue(keywords={"necronomicon": '"Not for sale."'}),
        ),
        "rat": _npc("rat", "a rat", NpcKind.AGGRESSIVE, wander_chance=1.0, wander_min_interval=0),
    }
    zones = {z: Zone(z, z.title(), "A zone.") for z in ("town", "yard")}
    return World(zones, rooms, {}, {}, npcs, spawns, "town.square")


class RefusingUnitOfWork:
    """NPC logic must never open a transaction (so this fake needs no commit or rollback)."""

    def __call__(self) -> UnitOfWork:
        raise AssertionError("NPC code opened a unit of work")


def make_game(world: World | None = None, rng: Rng | None = None) -> Game:
    world = world or build_npc_world()
    rng = rng or RandomRng(7)
    presence, npcs, messenger, bus = Presence(), NpcRoster(), FakeMessenger(), LocalEventBus()
    uow = RefusingUnitOfWork()
    return Game(
        world=world,
        presence=presence,
        npcs=npcs,
        messenger=messenger,
        bus=bus,
        clock=FakeClock(),
        rng=rng,
        uow=uow,
        reading=uow,
        rooms=RoomDescriber(world, presence, npcs, uow, rng),
        movement=MovementService(world, presence, messenger, bus, uow),
        chat=ChatService(presence, messenger, bus),
    )


def make_player(room_id: str, name: str = "Carter") -> Player:
    return Player(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        name=name,
        room_id=room_id,
        respawn_room_id=room_id,
        stats=Stats(12, 12, 12, 12, 12, 12),
        health=50,
        max_health=50,
        profession_id=1,
    )


def messenger_of(game: Game) -> FakeMessenger:
    assert isinstance(game.messenger, FakeMessenger)
    return game.messenger


def room_texts(game: Game, room_id: str) -> list[str]:
    return [
        str(frame["text"])
        for kind, audience, frame in messenger_of(game).sent
        if kind == "room" and isinstance(audience, tuple) and audience[0] == room_id
    ]


def clock_of(game: Game) -> FakeClock:
    assert isinstance(game.clock, FakeClock)
    return game.clock


@dataclass
class FakeCombat:
    """Stands in for the combat feature: records engagements, says who is fighting."""

    fighting: set[uuid.UUID] = field(default_factory=set)
    engaged: list[tuple[NpcInstance, Player]] = field(default_factory=list)
    broken: set[uuid.UUID] = field(default_factory=set)

    def engage_npc(self, npc: NpcInstance, player: Player) -> None:
        self.engaged.append((npc, player))
        self.fighting.add(npc.id)

    def in_combat(self, entity_id: uuid.UUID) -> bool:
        if entity_id in self.broken:
            raise RuntimeError("combat state corrupted")
        return entity_id in self.fighting
