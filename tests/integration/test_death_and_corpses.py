"""Killing, dying and corpses against a real database (SQLite, and PostgreSQL when given).

Every claim is checked by reading the tables back, not by trusting what a service returned."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any

import pytest
import sqlalchemy as sa

from kadath.commands.install_combat import combat_services
from kadath.domain.corpse import CorpseRules
from kadath.domain.errors import DatabaseUnavailable, DomainError, NotAllowed, ZoneMoved
from kadath.domain.events import NpcKilled, PlayerDied, PlayerLoggedOut
from kadath.domain.experience import xp_for_kill
from kadath.domain.item import (
    Container,
    ContainerKind,
    InContainer,
    InInventory,
    Location,
    OnFloor,
)
from kadath.domain.npc import NpcInstance
from kadath.domain.player import Player
from kadath.domain.rng import FixedRng, Rng
from kadath.domain.world import LootEntry, NpcDefinition, NpcKind, World
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ContainerRow, ItemRow
from kadath.persistence.repositories.item import ItemRepository
from kadath.persistence.repositories.player import PlayerRepository
from kadath.persistence.uow import UnitOfWork
from kadath.services.chat import ChatService
from kadath.services.clock import FakeClock
from kadath.services.combat import CombatService
from kadath.services.corpses import CorpseKeeper
from kadath.services.death import DeathService
from kadath.services.entry import WorldEntry
from kadath.services.events import LocalEventBus
from kadath.services.game import Game
from kadath.services.messenger import FakeMessenger
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber

STREET, SQUARE, DOCK = "town.street", "town.square", "harbour.dock"
RULES = CorpseRules(owner_grace_seconds=120, decay_seconds=900)
RAT = NpcDefinition(
    id="rat",
    name="a sewer rat",
    description="Bold.",
    keywords=("rat",),
    kind=NpcKind.AGGRESSIVE,
    level=3,
    health=2,
    stats={"strength": 8, "dexterity": 10},
    xp_value=40,
    damage=(1, 2),
    loot=(LootEntry("coin", 1.0, 2),),
)

# Hits hard and drains the mind; enough health to outlast any round.
BRUTE = dataclasses.replace(RAT, id="brute", damage=(10, 10), lucidity_damage=5, health=500)


class Certain:
    """Every swing lands for its most; ties everywhere else."""

    def randint(self, a: int, b: int) -> int:
        return b

    def random(self) -> float:
        return 0.0

    def choice(self, seq: Any) -> Any:
        return seq[0]


@dataclass
class Scene:
    game: Game
    clock: FakeClock
    death: DeathService
    combat: CombatService
    keeper: CorpseKeeper
    events: list[object] = field(default_factory=list)


def build_scene(persistence: AsyncPersistenceLayer, world: World, rng: Rng) -> Scene:
    presence, npcs, messenger = Presence(), NpcRoster(), FakeMessenger()
    bus, clock, uow = LocalEventBus(), FakeClock(), persistence.unit_of_work
    game = Game(
        world=world,
        presence=presence,
        npcs=npcs,
        messenger=messenger,
        bus=bus,
        clock=clock,
        rng=rng,
        uow=uow,
        reading=persistence.reading,
        rooms=RoomDescriber(world, presence, npcs, uow, rng),
        movement=MovementService(world, presence, messenger, bus, uow),
        chat=ChatService(presence, messenger, bus),
    )
    persistence.room_listeners[:] = [game.rooms.forget]
    death, combat = combat_services(game, RULES)
    combat.install()
    keeper = CorpseKeeper(uow, messenger, clock, RULES, reading=persistence.reading)
    scene = Scene(game, clock, death, combat, keeper)
    bus.subscribe(NpcKilled, scene.events.append)
    bus.subscribe(PlayerDied, scene.events.append)
    return scene


async def carrying(persistence: AsyncPersistenceLayer, player: Player) -> dict[str, Any]:
    """Give the player a lantern, a wielded razor and a worn satchel holding a coin."""
    held = InInventory(player.id)
    async with persistence.unit_of_work() as uow:
        lantern = await uow.items.create_item("lantern", held)
        razor = await uow.items.create_item("razor", held)
        satchel = await uow.items.create_item("satchel", held)
        await uow.items.set_worn(razor.id, player.id, "wield")
        await uow.items.set_worn(satchel.id, player.id, "waist")
        bag = await uow.containers.create_container(
            kind=ContainerKind.WEARABLE, name="a leather satchel", capacity=3, item_id=satchel.id
        )
        coin = await uow.items.create_item("coin", InContainer(bag.id))
    return {"carried": {lantern.id, razor.id, satchel.id}, "bag": bag, "coin": coin.id}


async def stored_corpses(persistence: AsyncPersistenceLayer) -> list[Container]:
    async with persistence.engine.connect() as conn:
        ids = (
            await conn.execute(
                sa.select(ContainerRow.id).where(ContainerRow.kind == ContainerKind.CORPSE.value)
            )
        ).scalars()
        wanted = list(ids)
    async with persistence.unit_of_work() as uow:
        return [await uow.containers.get_container(i) for i in wanted]


async def ids_at(persistence: AsyncPersistenceLayer, location: Location) -> set[uuid.UUID]:
    return {i.id for i in await persistence.items_at(location)}


async def dead_player(
    persistence: AsyncPersistenceLayer, scene: Scene, save_player: Any, **fields: Any
) -> Player:
    player: Player = await save_player(room_id=STREET, respawn_room_id=SQUARE, **fields)
    scene.game.presence.enter(player, explored=set(scene.game.world.rooms))
    player.health = await persistence.damage_player(player, player.max_health, "combat")
    return player


# -- killing ----------------------------------------------------------------------------------


async def test_killing_an_npc_pays_exactly_the_kill_experience_and_leaves_its_loot(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    scene = build_scene(persistence, small_world, FixedRng(ints=[15, 5, 3], floats=[0.0]))
    alice: Player = await save_player(room_id=STREET)
    scene.game.presence.enter(alice, explored=set(small_world.rooms))
    rat = NpcInstance(uuid.uuid4(), RAT, STREET, RAT.health, spawn_key="street-rats")
    scene.game.npcs.add(rat)
    corpses_when_announced: list[int] = []

    async def on_killed(event: NpcKilled) -> None:
        corpses_when_announced.append(len(await stored_corpses(persistence)))

    scene.game.bus.subscribe(NpcKilled, on_killed)
    await scene.combat.attack(alice, "rat")

    await scene.combat.run_round()

    row = await stored.player(alice.id)
    assert row.experience == xp_for_kill(RAT.level, 1, RAT.xp_value) == 40
    [corpse] = await stored_corpses(persistence)
    assert (corpse.room_id, corpse.owner_player_id) == (STREET, None)
    contents = await persistence.items_at(InContainer(corpse.id))
    assert [i.prototype_id for i in contents] == ["coin", "coin"]
    [killed] = [e for e in scene.events if isinstance(e, NpcKilled)]
    assert (killed.npc_id, killed.killer_id, killed.spawn_key) == (rat.id, alice.id, "street-rats")
    assert corpses_when_announced == [1]  # published after the commit, not before
    assert scene.game.npcs.get(rat.id) is None


# -- dying ------------------------------------------------------------------------------------


async def test_a_dead_player_leaves_all_they_carried_on_a_corpse_and_respawns(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    alice = await dead_player(persistence, scene, save_player)
    things = await carrying(persistence, alice)
    items_before = await stored.items()

    corpse = await scene.death.player_died(alice, "a sewer rat")

    assert await ids_at(persistence, InContainer(corpse.id)) == things["carried"]
    assert await stored.items(ItemRow.owner_player_id == alice.id) == 0
    assert await stored.place(things["coin"]) == InContainer(things["bag"].id)
    assert (
        await stored.items(ItemRow.container_id == corpse.id, ItemRow.worn_slot.is_not(None)) == 0
    )
    assert await stored.items() == items_before
    row = await stored.player(alice.id)
    assert (row.health, row.room_id) == (alice.max_health, SQUARE)
    assert (alice.health, alice.room_id) == (alice.max_health, SQUARE)
    [stored_corpse] = await stored_corpses(persistence)
    assert stored_corpse.owner_player_id == alice.id
    assert stored_corpse.room_id == STREET
    assert stored_corpse.name == "the corpse of " + alice.name
    assert stored_corpse.capacity == 3
    assert stored_corpse.decays_at == scene.clock.now() + timedelta(seconds=RULES.decay_seconds)
    assert stored_corpse.metadata["owner_name"] == alice.name
    [died] = [e for e in scene.events if isinstance(e, PlayerDied)]
    assert (died.room_id, died.corpse_id, died.killer) == (STREET, corpse.id, "a sewer rat")


async def test_a_player_with_empty_pockets_still_leaves_a_corpse(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    alice = await dead_player(persistence, scene, save_player)
    corpse = await scene.death.player_died(alice)
    assert corpse.capacity == 1
    assert await ids_at(persistence, InContainer(corpse.id)) == set()


class _ItemsThatFailAfterMoving(ItemRepository):
    async def move_all(self, source: Location, destination: Location) -> int:
        await super().move_all(source, destination)
        raise RuntimeError("the power fails mid-death")


class _PlayersThatFailAfterMoving(PlayerRepository):
    async def move_player(self, player_id: uuid.UUID, room_id: str) -> None:
        await super().move_player(player_id, room_id)
        raise RuntimeError("the power fails mid-death")


class _FailingUnitOfWork:
    """A real unit of work in which one step does its work, then fails, inside the transaction."""

    def __init__(self, inner: UnitOfWork, world: World, step: str) -> None:
        self._inner, self._world, self._step = inner, world, step

    async def __aenter__(self) -> UnitOfWork:
        uow = await self._inner.__aenter__()
        if self._step == "move_all":
            uow.items = _ItemsThatFailAfterMoving(uow.session, dict(self._world.items))
        else:
            uow.players = _PlayersThatFailAfterMoving(uow.session)
        return uow

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)


@pytest.mark.parametrize("step", ["move_all", "move_player"])
async def test_a_failure_in_mid_death_moves_nothing_and_heals_nobody(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    step: str,
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    alice = await dead_player(persistence, scene, save_player)
    things = await carrying(persistence, alice)

    def failing() -> Any:
        return _FailingUnitOfWork(persistence.unit_of_work(), small_world, step)

    scene.game.uow = failing
    death, _ = combat_services(scene.game, RULES)

    with pytest.raises(RuntimeError, match="power fails"):
        await death.player_died(alice)

    assert await ids_at(persistence, InInventory(alice.id)) == things["carried"]
    assert await stored.place(things["coin"]) == InContainer(things["bag"].id)
    assert await stored_corpses(persistence) == []
    row = await stored.player(alice.id)
    assert (row.health, row.room_id) == (0, STREET)
    assert (alice.health, alice.room_id) == (0, STREET)
    assert not scene.events


async def brute_fight(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, health: int
) -> tuple[Scene, Player, dict[str, Any]]:
    """Alice, carrying things, fighting a brute in the street."""
    scene = build_scene(persistence, small_world, Certain())
    alice: Player = await save_player(room_id=STREET, respawn_room_id=SQUARE, health=health)
    scene.game.presence.enter(alice, explored=set(small_world.rooms))
    things = await carrying(persistence, alice)
    brute = NpcInstance(uuid.uuid4(), BRUTE, STREET, BRUTE.health)
    scene.game.npcs.add(brute)
    scene.combat.engage_npc(brute, alice)
    return scene, alice, things


async def test_a_failure_at_any_point_of_a_lethal_blow_leaves_memory_equal_to_the_database(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    faults: Any,
) -> None:
    for fail_at in itertools.count(1):
        faults.arm(0)
        scene, alice, things = await brute_fight(persistence, small_world, save_player, 5)
        faults.arm(fail_at)
        with contextlib.suppress(DatabaseUnavailable):
            await scene.combat.run_round()
        interrupted = faults.failed
        faults.arm(0)

        row = await stored.player(alice.id)
        died = row.health > 0 and row.room_id == SQUARE
        assert row.health > 0, "committed at health 0 without the death"
        assert (alice.health, alice.lucidity, alice.room_id) == (
            row.health,
            row.lucidity,
            row.room_id,
        )
        corpses = [c for c in await stored_corpses(persistence) if c.owner_player_id == alice.id]
        holder = InInventory(alice.id) if not died else InContainer(corpses[0].id)
        assert len(corpses) == died
        assert await ids_at(persistence, holder) == things["carried"]
        assert await stored.place(things["coin"]) == InContainer(things["bag"].id)
        assert any(isinstance(e, PlayerDied) for e in scene.events) == died
        if not interrupted:
            assert died, "the brute's blow should kill"
            break
    assert fail_at > 5  # the blow, the burial and the commit were each interrupted


async def test_a_failure_at_any_point_of_a_slaying_moves_nothing_or_everything(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    faults: Any,
) -> None:
    for fail_at in itertools.count(1):
        faults.arm(0)
        scene = build_scene(persistence, small_world, FixedRng())
        alice: Player = await save_player(room_id=STREET, respawn_room_id=SQUARE, health=40)
        scene.game.presence.enter(alice, explored=set(small_world.rooms))
        things = await carrying(persistence, alice)
        faults.arm(fail_at)
        with contextlib.suppress(DatabaseUnavailable):
            await scene.death.player_died(alice, "the warden")
        interrupted = faults.failed
        faults.arm(0)

        row = await stored.player(alice.id)
        died = row.room_id == SQUARE
        assert (alice.health, alice.room_id) == (row.health, row.room_id)
        assert row.health == (100 if died else 40)
        corpses = [c for c in await stored_corpses(persistence) if c.owner_player_id == alice.id]
        assert len(corpses) == died
        holder = InContainer(corpses[0].id) if died else InInventory(alice.id)
        assert await ids_at(persistence, holder) == things["carried"]
        assert any(isinstance(e, PlayerDied) for e in scene.events) == died
        if not interrupted:
            assert died
            break


async def test_a_failure_at_any_point_of_a_draining_blow_leaves_memory_equal_to_the_database(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    faults: Any,
) -> None:
    for fail_at in itertools.count(1):
        faults.arm(0)
        scene, alice, _things = await brute_fight(persistence, small_world, save_player, 100)
        faults.arm(fail_at)
        with contextlib.suppress(DatabaseUnavailable):
            await scene.combat.run_round()
        interrupted = faults.failed
        faults.arm(0)

        row = await stored.player(alice.id)
        assert (alice.health, alice.lucidity) == (row.health, row.lucidity)
        told = scene.game.messenger.texts_for("player")  # type: ignore[attr-defined]
        assert any("unmoors" in t for t in told) == (row.lucidity < 100)
        if not interrupted:
            assert (row.health, row.lucidity) == (91, 95)  # 10 less the rat's weak arm
            break


async def test_a_player_back_before_the_logout_is_handled_keeps_the_new_fight(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any
) -> None:
    game = build_scene(persistence, small_world, Certain()).game
    game.bus = bus = LocalEventBus()
    entry = WorldEntry(small_world, game.presence, game.messenger, bus, game.uow)
    alice: Player = await save_player(room_id=STREET)
    await entry.enter(alice.id)
    game.npcs.add(NpcInstance(uuid.uuid4(), BRUTE, STREET, BRUTE.health))
    came_back: list[Player] = []

    async def come_back_and_fight(_event: PlayerLoggedOut) -> None:
        # Another connection brings Alice back, and she attacks, before combat hears of it.
        came_back.append(await entry.enter(alice.id))
        with contextlib.suppress(NotAllowed):  # "already fighting": the old fight goes on
            await combat.attack(came_back[0], "rat")

    bus.subscribe(PlayerLoggedOut, come_back_and_fight)
    _death, combat = combat_services(game, RULES)
    combat.install()
    await combat.attack(alice, "rat")

    await entry.leave(alice.id)

    assert came_back[0].id in game.presence
    assert combat.in_combat(came_back[0].id)


# -- looting ----------------------------------------------------------------------------------


async def test_only_the_owner_may_loot_until_the_grace_ends_then_anyone_may(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    alice = await dead_player(persistence, scene, save_player)
    bob: Player = await save_player(room_id=STREET)
    things = await carrying(persistence, alice)
    corpse = await scene.death.player_died(alice)
    [stored_corpse] = await stored_corpses(persistence)
    lantern, razor, _ = sorted(things["carried"], key=str)
    here = InContainer(corpse.id)

    scene.keeper.guard(alice, stored_corpse)
    await persistence.transfer_item(lantern, here, InInventory(alice.id))
    with pytest.raises(NotAllowed, match="not yours to loot yet"):
        scene.keeper.guard(bob, stored_corpse)

    scene.clock.advance(RULES.owner_grace_seconds)
    scene.keeper.guard(bob, stored_corpse)
    await persistence.transfer_item(razor, here, InInventory(bob.id))

    assert await ids_at(persistence, InInventory(alice.id)) == {lantern}
    assert await ids_at(persistence, InInventory(bob.id)) == {razor}


async def test_an_npc_corpse_is_anyones_to_loot(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    bob: Player = await save_player(room_id=STREET)
    rat = NpcInstance(uuid.uuid4(), RAT, STREET, RAT.health)
    scene.game.npcs.add(rat)
    corpse = await scene.death.npc_died(rat, None)
    assert corpse is not None
    scene.keeper.guard(bob, corpse)


async def test_many_players_looting_one_corpse_each_item_ends_in_exactly_one_place(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    alice = await dead_player(persistence, scene, save_player)
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 6, InInventory(alice.id))
    corpse = await scene.death.player_died(alice)
    scene.clock.advance(RULES.owner_grace_seconds)
    looters = [alice] + [await save_player(room_id=STREET) for _ in range(7)]
    items = await ids_at(persistence, InContainer(corpse.id))
    here = InContainer(corpse.id)

    async def loot(player: Player, item: uuid.UUID) -> str:
        scene.keeper.guard(player, corpse)
        return await _outcome(persistence.transfer_item(item, here, InInventory(player.id)))

    outcomes = await asyncio.gather(*(loot(p, i) for p in looters for i in items))

    assert Counter(outcomes) == {"ok": 6, "ItemMoved": 6 * 7}
    owners = Counter(
        place.player_id
        for place in (await stored.places(list(items))).values()
        if isinstance(place, InInventory)
    )
    assert sum(owners.values()) == 6
    assert await stored.items(ItemRow.id.in_(items)) == 6


async def test_looting_while_the_corpse_decays_loses_and_doubles_nothing(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    alice = await dead_player(persistence, scene, save_player)
    async with persistence.unit_of_work() as uow:
        await uow.items.create_items(["coin"] * 6, InInventory(alice.id))
    corpse = await scene.death.player_died(alice)
    items = await ids_at(persistence, InContainer(corpse.id))
    scene.clock.advance(RULES.decay_seconds)
    looters = [await save_player(room_id=STREET) for _ in range(4)]

    async def loot(player: Player, item: uuid.UUID) -> str:
        move = persistence.transfer_item(item, InContainer(corpse.id), InInventory(player.id))
        return await _outcome(move)

    await asyncio.gather(scene.keeper.decay(), *(loot(p, i) for p in looters for i in items))

    places = await stored.places(list(items))
    assert set(places) == items
    assert all(isinstance(p, InInventory | OnFloor) for p in places.values())
    assert await stored_corpses(persistence) == []


# -- decay ------------------------------------------------------------------------------------


async def test_a_decayed_corpse_spills_everything_onto_the_floor_and_is_removed(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    scene = build_scene(persistence, small_world, FixedRng())
    alice = await dead_player(persistence, scene, save_player)
    things = await carrying(persistence, alice)
    floor_before = await ids_at(persistence, OnFloor(STREET))
    await scene.death.player_died(alice)

    scene.clock.advance(RULES.decay_seconds - 1)
    assert await scene.keeper.decay() == 0
    scene.clock.advance(1)
    assert await scene.keeper.decay() == 1

    assert await ids_at(persistence, OnFloor(STREET)) == floor_before | things["carried"]
    assert await stored_corpses(persistence) == []
    assert await stored.place(things["coin"]) == InContainer(things["bag"].id)
    assert await scene.keeper.decay() == 0


async def _outcome(work: Awaitable[object]) -> str:
    try:
        await work
    except DomainError as exc:
        return type(exc).__name__
    return "ok"


# -- a combat round is one unit of work -------------------------------------------------------


async def melee(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any
) -> tuple[Scene, list[Player], NpcInstance]:
    """Alice and Bob each against a brute, Carol against a rat she kills with her first blow,
    all in the street: one round holds four blows on players, their drains, a kill, its
    corpse and its experience."""
    scene = build_scene(persistence, small_world, Certain())
    fighters: list[Player] = []
    rat = NpcInstance(uuid.uuid4(), RAT, STREET, 1)
    for foe in (BRUTE, BRUTE, None):
        player: Player = await save_player(room_id=STREET, respawn_room_id=SQUARE, health=100)
        scene.game.presence.enter(player, explored=set(small_world.rooms))
        npc = rat if foe is None else NpcInstance(uuid.uuid4(), foe, STREET, foe.health)
        scene.game.npcs.add(npc)
        scene.combat.engage_npc(npc, player)
        fighters.append(player)
    scene.game.messenger.sent.clear()  # type: ignore[attr-defined]
    return scene, fighters, rat


def begins(persistence: AsyncPersistenceLayer) -> tuple[list[object], Any]:
    begun: list[object] = []

    def count(conn: Any) -> None:
        begun.append(conn)

    for engine in persistence.engines:
        sa.event.listen(engine.sync_engine, "begin", count)
    return begun, count


async def test_a_combat_round_with_many_blows_and_a_kill_commits_once(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    scene, (alice, bob, carol), rat = await melee(persistence, small_world, save_player)
    begun, count = begins(persistence)
    try:
        await scene.combat.run_round()
    finally:
        for engine in persistence.engines:
            sa.event.remove(engine.sync_engine, "begin", count)

    assert len(begun) == 1  # gear, blows, drains, the rat's corpse and Carol's experience
    for player in (alice, bob):
        row = await stored.player(player.id)
        assert (player.health, player.lucidity) == (row.health, row.lucidity)
        assert row.health < 100 and row.lucidity < 100
    row = await stored.player(carol.id)
    assert carol.experience == row.experience > 0
    assert scene.game.npcs.get(rat.id) is None
    assert len([c for c in await stored_corpses(persistence) if c.owner_player_id is None]) == 1
    assert any(isinstance(e, NpcKilled) for e in scene.events)


async def test_a_failure_at_any_point_of_a_round_stores_none_of_it_and_shows_nothing(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    faults: Any,
) -> None:
    for fail_at in itertools.count(1):
        faults.arm(0)
        scene, players, rat = await melee(persistence, small_world, save_player)
        faults.arm(fail_at)
        with contextlib.suppress(DatabaseUnavailable):
            await scene.combat.run_round()
        interrupted = faults.failed
        faults.arm(0)

        for player in players:
            row = await stored.player(player.id)
            assert (player.health, player.lucidity, player.experience, player.level) == (
                row.health,
                row.lucidity,
                row.experience,
                row.level,
            )
            # all of the round, or none of it
            changed = row.health < 100 if player is not players[-1] else row.experience > 0
            assert changed != interrupted
        corpses = [c for c in await stored_corpses(persistence) if c.owner_player_id is None]
        assert len(corpses) == (0 if interrupted else 1)
        assert (scene.game.npcs.get(rat.id) is not None) == interrupted
        assert (rat.health == 1) == interrupted
        sent = scene.game.messenger.sent  # type: ignore[attr-defined]
        if interrupted:
            assert sent == [], "a round that was not stored told someone something"
            assert not scene.events
            # the fights stand as they were: the next round is the one that lands
            assert all(scene.combat.in_combat(p.id) for p in players)
            continue
        assert sent
        break
    assert fail_at > 8  # three gear reads, four blows and drains, the corpse, the gain, the commit
    await scene.combat.run_round()  # and the fights go on


# -- a round's blows go through the zone fence (``serve --cluster``) ------------------------


@pytest.mark.parametrize("refused", [False, True])
async def test_a_rounds_blows_are_fenced_by_the_zone_they_land_in(
    persistence: AsyncPersistenceLayer,
    small_world: World,
    save_player: Any,
    stored: Any,
    refused: bool,
) -> None:
    scene, alice, _things = await brute_fight(persistence, small_world, save_player, 100)
    zone = small_world.rooms[STREET].zone_id
    asked: list[str] = []

    async def fence(_session: Any, fenced_zone: str) -> None:
        asked.append(fenced_zone)
        if refused:
            raise ZoneMoved()

    persistence.fence = fence
    try:
        await scene.combat.run_round()  # a refused round is logged and stores nothing
    finally:
        persistence.fence = None

    assert asked == [zone]
    row = await stored.player(alice.id)
    assert (alice.health, alice.lucidity) == (row.health, row.lucidity)
    assert (row.health, row.lucidity) == ((100, 100) if refused else (91, 95))


async def test_a_zone_the_fence_refuses_refuses_only_its_own_blows(
    persistence: AsyncPersistenceLayer, small_world: World, save_player: Any, stored: Any
) -> None:
    """``serve --cluster`` stores a round one unit of work per zone: a refused zone (a newer
    holder recorded) stores nothing and changes nothing in memory, the others' blows stand."""
    scene, alice, _things = await brute_fight(persistence, small_world, save_player, 100)
    scene.combat.unit_per_zone = True  # as install_combat wires a cluster node
    bob: Player = await save_player(room_id=DOCK, respawn_room_id=SQUARE, health=100)
    scene.game.presence.enter(bob, explored=set(small_world.rooms))
    brute = NpcInstance(uuid.uuid4(), BRUTE, DOCK, BRUTE.health)
    scene.game.npcs.add(brute)
    scene.combat.engage_npc(brute, bob)
    here, lost = small_world.rooms[STREET].zone_id, small_world.rooms[DOCK].zone_id
    asked: list[str] = []

    async def fence(_session: Any, zone: str) -> None:
        asked.append(zone)
        if zone == lost:
            raise ZoneMoved()

    sent = scene.game.messenger.sent  # type: ignore[attr-defined]
    sent.clear()
    persistence.fence = fence
    try:
        await scene.combat.run_round()
    finally:
        persistence.fence = None

    assert sorted(asked) == sorted([here, lost])
    alice_row, bob_row = await stored.player(alice.id), await stored.player(bob.id)
    assert (alice.health, alice.lucidity) == (alice_row.health, alice_row.lucidity) == (91, 95)
    assert (bob.health, bob.lucidity) == (bob_row.health, bob_row.lucidity) == (100, 100)
    assert scene.combat.in_combat(bob.id)  # its fight stands as it was (until the zone drops)
    told_bob = [f for kind, to, f in sent if to == bob.id or (kind == "room" and to[0] == DOCK)]
    assert told_bob == []  # nothing of the refused zone's blows was told
    assert any(to == alice.id for _kind, to, _frame in sent)  # alice's round was told
