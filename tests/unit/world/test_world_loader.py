"""The packaged world loads, and its map and references make sense to a player."""

from collections import deque

import pytest

from kadath.domain.world import ItemKind, NpcKind, World
from kadath.world import DEFAULT_WORLD_DIR, load_world


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(DEFAULT_WORLD_DIR)


def test_the_packaged_world_has_at_least_thirty_rooms_in_three_zones(world: World) -> None:
    assert len(world.rooms) >= 30
    assert len(world.zones) >= 3
    assert all(world.rooms_in_zone(zone_id) for zone_id in world.zones)


def test_every_exit_has_a_way_back(world: World) -> None:
    one_way = [
        (room.id, direction, target)
        for room in world.rooms.values()
        for direction, target in room.exits.items()
        if world.rooms[target].exits.get(direction.opposite) != room.id
    ]
    assert one_way == []


def test_every_room_is_reachable_from_the_start_room(world: World) -> None:
    seen = {world.start_room_id}
    queue = deque([world.start_room_id])
    while queue:
        for target in world.rooms[queue.popleft()].exits.values():
            if target not in seen:
                seen.add(target)
                queue.append(target)
    assert set(world.rooms) - seen == set()


def test_the_start_room_is_the_safe_boarding_house(world: World) -> None:
    assert world.start_room_id == "arkham.boarding_house"
    assert world.rooms[world.start_room_id].safe


def test_room_ids_carry_their_zone_prefix(world: World) -> None:
    assert all(room.id.startswith(f"{room.zone_id}.") for room in world.rooms.values())


def test_the_world_has_a_pvp_room_and_rooms_that_cost_lucidity(world: World) -> None:
    assert [room.id for room in world.rooms.values() if room.pvp] == ["arkham.fighting_pit"]
    assert any(room.lucidity_cost > 0 for room in world.rooms.values())


def test_the_item_catalogue_covers_every_kind(world: World) -> None:
    assert len(world.items) >= 20
    assert {item.kind for item in world.items.values()} == set(ItemKind)


def test_weapons_are_wielded_and_wearable_containers_hold_things(world: World) -> None:
    assert world.items["cane_sword"].slot == "wield"
    assert world.items["cane_sword"].damage == (3, 7)
    assert world.items["canvas_backpack"].capacity == 10
    assert world.items["leather_satchel"].capacity == 6
    assert world.items["heavy_wool_coat"].armor > 0


def test_containers_are_placed_in_their_rooms(world: World) -> None:
    assert len(world.containers) >= 4
    strongbox = world.containers["warehouse_strongbox"]
    assert strongbox.room_id == "harbour.warehouse"
    assert strongbox.locked
    assert strongbox.key_prototype_id == "iron_key"


def test_every_locked_container_has_its_key_somewhere_a_player_can_find_it(world: World) -> None:
    findable = {stack.prototype_id for room in world.rooms.values() for stack in room.items}
    findable |= {
        stack.prototype_id
        for container in world.containers.values()
        if not container.locked
        for stack in container.contents
    }
    findable |= {loot.prototype_id for npc in world.npcs.values() for loot in npc.loot}
    keys = {c.key_prototype_id for c in world.containers.values() if c.locked}
    assert keys
    assert keys - findable == set()


def test_npcs_include_townsfolk_creatures_and_a_shopkeeper(world: World) -> None:
    assert len(world.npcs) >= 8
    kinds = {npc.kind for npc in world.npcs.values()}
    assert {NpcKind.PASSIVE, NpcKind.AGGRESSIVE, NpcKind.SHOPKEEPER} <= kinds
    librarian = world.npcs["librarian"]
    assert "necronomicon" in librarian.dialogue.keywords
    assert set(librarian.stats) == {
        "strength",
        "dexterity",
        "constitution",
        "intelligence",
        "wisdom",
        "charisma",
    }


def test_npc_numbers_come_through_from_the_file(world: World) -> None:
    deep_one = world.npcs["deep_one"]
    assert deep_one.xp_value == 160
    assert deep_one.damage == (4, 10)
    assert deep_one.lucidity_damage == 3
    assert deep_one.home_zone == "harbour"
    assert world.npcs["orderly"].wander_chance == pytest.approx(0.2)


def test_spawn_rules_name_their_zone_and_may_leave_the_room_open(world: World) -> None:
    assert all(spawn.npc_id in world.npcs for spawn in world.spawns)
    roaming = [s for s in world.spawns if s.room_id is None]
    assert roaming
    assert all(spawn.zone_id in world.zones for spawn in world.spawns)
    assert any(spawn.required for spawn in world.spawns)
