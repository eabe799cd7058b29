"""Corpse decay with fakes: what spills, what is removed, what the room is told."""

from __future__ import annotations

from datetime import timedelta

from combat_fakes import build_arena, player_named

from kadath.commands.install_combat import combat_services
from kadath.domain.corpse import CorpseRules
from kadath.domain.item import ContainerKind, InContainer, OnFloor
from kadath.domain.rng import FixedRng
from kadath.services.corpses import CorpseKeeper

RULES = CorpseRules(owner_grace_seconds=60, decay_seconds=600)


async def test_a_decayed_corpse_spills_its_items_and_crumbles() -> None:
    arena = build_arena(FixedRng(), RULES)
    game = arena.game
    keeper = CorpseKeeper(game.uow, game.messenger, game.clock, RULES, reading=game.reading)
    alice = arena.enter(player_named("Alice", health=0))
    items = {arena.store.give(alice, "coin").id, arena.store.give(alice, "razor", "wield").id}
    corpse = await combat_services(game, RULES)[0].player_died(alice)

    arena.clock.advance(RULES.decay_seconds - 1)
    assert await keeper.decay() == 0
    assert corpse.id in arena.store.containers

    arena.clock.advance(1)
    assert await keeper.decay() == 1

    assert corpse.id not in arena.store.containers
    assert {i.id for i in arena.store.at(OnFloor("crypt"))} == items
    assert arena.store.at(InContainer(corpse.id)) == []
    assert arena.said_in("crypt")[-1] == (
        "The corpse of Alice crumbles into dust, and its belongings spill onto the floor."
    )


async def test_an_empty_corpse_simply_crumbles_and_other_containers_are_left_alone() -> None:
    arena = build_arena(FixedRng(), RULES)
    game = arena.game
    keeper = CorpseKeeper(game.uow, game.messenger, game.clock, RULES, reading=game.reading)
    async with game.uow() as uow:
        await uow.containers.create_container(
            kind=ContainerKind.CORPSE,
            name="the corpse of the ghoul",
            capacity=1,
            room_id="crypt",
            decays_at=game.clock.now(),
        )
        bag = await uow.containers.create_container(
            kind=ContainerKind.ENVIRONMENT,
            name="a sack",
            capacity=1,
            room_id="crypt",
            decays_at=game.clock.now() - timedelta(seconds=1),
        )

    await keeper.decay_step(0.0)

    assert list(arena.store.containers) == [bag.id]
    assert arena.said_in("crypt") == ["The corpse of the ghoul crumbles into dust."]
