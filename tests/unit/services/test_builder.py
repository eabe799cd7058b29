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
from kadath.services.building import Builder
from kadath.services.unit_of_work import UnitOfWork


@pytest.fixture
def builder(small_world: World) -> Builder:
    copy = small_world.copy()
    copy.containers.clear()  # its chest's id would not pass the loader
    return Builder(copy, Path("/nonexistent"), lambda: None, no_transactions)


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
