"""Building on the hand-made test world: each change is checked as the loader checks the
files, and a refused one leaves the world as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import player_named

from kadath.domain.account import Role
from kadath.domain.errors import InvalidInput, NotAllowed
from kadath.domain.player import Player
from kadath.domain.world import Direction, World
from kadath.services.build_grants import GrantBook
from kadath.services.building import Builder, NewContainer, can_build
from kadath.services.unit_of_work import UnitOfWork


@pytest.fixture
def builder(small_world: World) -> Builder:
    copy = small_world.copy()
    copy.containers.clear()  # its chest's id would not pass the loader
    return Builder(copy, Path("/nonexistent"), lambda: None, no_transactions, GRANTS)


GRANTS = GrantBook()


def no_transactions() -> UnitOfWork:
    raise AssertionError("this change must not open a unit of work")


def admin() -> Player:
    player = player_named("Warden")
    player.role = Role.ADMIN
    return player


def test_dig_makes_a_two_way_exit(builder: Builder) -> None:
    warden = admin()
    builder.dig(warden, Direction.NORTH, "town.well", "The Well")
    world = builder._world
    assert world.rooms["town.square"].exits[Direction.NORTH] == "town.well"
    assert world.rooms["town.well"].exits == {Direction.SOUTH: "town.square"}
    assert world.rooms["town.well"].zone_id == "town"


def test_a_room_id_outside_the_zone_is_refused_and_nothing_changes(builder: Builder) -> None:
    rooms = dict(builder._world.rooms)
    with pytest.raises(InvalidInput) as caught:
        builder.dig(admin(), Direction.NORTH, "harbour.well", "A Well")
    assert "room id 'harbour.well' must start with 'town.'" in str(caught.value)
    assert builder._world.rooms == rooms


def test_an_empty_description_is_refused_as_the_loader_would(builder: Builder) -> None:
    with pytest.raises(InvalidInput) as caught:
        builder.describe(admin(), "   ")
    assert "rooms[0].description: String should have at least 1 character" in str(caught.value)


def test_removing_an_exit_removes_the_way_back(builder: Builder) -> None:
    warden = admin()
    warden.room_id = "town.street"
    builder.remove_exit(warden, Direction.EAST)
    assert Direction.WEST not in builder._world.rooms["harbour.dock"].exits


def test_only_those_who_may_build_here_can(builder: Builder) -> None:
    with pytest.raises(NotAllowed):
        builder.rename(player_named("Alice"), "Mine")


def test_a_builder_without_a_grant_of_the_zone_is_refused_in_a_sentence(builder: Builder) -> None:
    mason = player_named("Mason")
    mason.role = Role.BUILDER
    with pytest.raises(NotAllowed) as caught:
        builder.dig(mason, Direction.NORTH, "town.well", "The Well")
    zone = builder._world.zones["town"].name
    assert str(caught.value) == f"You may not build in {zone}; ask an admin for a grant."
    assert "town.well" not in builder._world.rooms


def test_a_granted_builder_builds_there_and_not_across_into_another_zone() -> None:
    grants = GrantBook()
    mason = player_named("Mason")
    mason.role = Role.BUILDER
    grants.record(mason.account_id, "town")
    assert can_build(mason, "town", grants)
    assert not can_build(mason, "harbour", grants)


def test_the_grant_rule_by_role() -> None:
    grants = GrantBook()
    someone = player_named("Someone")
    for role, ungranted, granted in [
        (Role.PLAYER, False, False),
        (Role.BUILDER, False, True),
        (Role.MODERATOR, False, True),
        (Role.ADMIN, True, True),
    ]:
        someone.role = role
        assert can_build(someone, "town", grants) is ungranted, role
        grants.record(someone.account_id, "town")
        assert can_build(someone, "town", grants) is granted, role
        grants.forget(someone.account_id, "town")
        assert can_build(someone, "town", grants) is ungranted, role


def test_a_granted_builder_cannot_join_an_exit_into_an_ungranted_zone(small_world: World) -> None:
    copy = small_world.copy()
    copy.containers.clear()
    grants = GrantBook()
    builder = Builder(copy, Path("/nonexistent"), lambda: None, no_transactions, grants)
    mason = player_named("Mason")
    mason.role = Role.BUILDER
    grants.record(mason.account_id, "town")
    mason.room_id = "town.street"
    with pytest.raises(NotAllowed):
        builder.remove_exit(mason, Direction.EAST)  # its way back is in the harbour
    assert Direction.EAST in builder._world.rooms["town.street"].exits


async def test_a_zone_without_a_file_is_not_saved(builder: Builder) -> None:
    with pytest.raises(InvalidInput):
        await builder.save_zone(admin())


def test_a_spawn_rule_for_an_unknown_npc_is_refused(builder: Builder) -> None:
    with pytest.raises(InvalidInput) as caught:
        builder.add_spawn(admin(), "shoggoth", 1, 1.0)
    assert "spawns[0].npc: unknown npc 'shoggoth'" in str(caught.value)
    assert builder._world.spawns == ()


async def test_an_unknown_item_is_refused_before_any_transaction(builder: Builder) -> None:
    with pytest.raises(InvalidInput) as caught:
        await builder.place_item(admin(), "shoggoth_egg", 1)
    assert "rooms[0].items[2].item: unknown item 'shoggoth_egg'" in str(caught.value)


def _chest(**changes: object) -> NewContainer:
    values: dict[str, object] = {
        "container_id": "linen_press",
        "name": "a linen press",
        "capacity": 6,
        "key": None,
        "locked": False,
    }
    return NewContainer(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"key": "coin"}, "'coin' is not a key item"),
        ({"locked": True}, "a locked container needs a key"),
        ({"container_id": "Linen-Press"}, "String should match pattern"),
        ({"capacity": 0}, "greater than 0"),
    ],
)
async def test_a_container_the_loader_would_refuse_is_not_placed(
    builder: Builder, changes: dict[str, object], reason: str
) -> None:
    before = dict(builder._world.containers)
    with pytest.raises(InvalidInput) as caught:
        await builder.place_container(admin(), _chest(**changes))  # before any transaction
    assert reason in str(caught.value)
    assert builder._world.containers == before


async def test_a_container_id_already_in_the_world_is_refused(small_world: World) -> None:
    builder = Builder(
        small_world.copy(), Path("/nonexistent"), lambda: None, no_transactions, GRANTS
    )
    existing = next(iter(small_world.containers))
    with pytest.raises(InvalidInput) as caught:
        await builder.place_container(admin(), _chest(container_id=existing))
    assert "already a container" in str(caught.value)


async def test_placing_a_container_needs_a_grant_of_the_zone(builder: Builder) -> None:
    mason = player_named("Mason")
    mason.role = Role.BUILDER
    with pytest.raises(NotAllowed):
        await builder.place_container(mason, _chest())
