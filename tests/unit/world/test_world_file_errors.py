"""Broken copies of the packaged world fail with a WorldFileError naming file and field."""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kadath.world import DEFAULT_WORLD_DIR, WorldFileError, load_world

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def world_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "world"
    shutil.copytree(DEFAULT_WORLD_DIR, directory)
    return directory


def edit(directory: Path, name: str, change: Edit) -> None:
    path = directory / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def index_of(directory: Path, name: str, section: str, entry_id: str) -> int:
    data = yaml.safe_load((directory / name).read_text(encoding="utf-8"))
    return next(i for i, entry in enumerate(data[section]) if entry["id"] == entry_id)


def room_index(directory: Path, zone_file: str, room_id: str) -> int:
    return index_of(directory, zone_file, "rooms", room_id)


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(WorldFileError) as caught:
        load_world(directory)
    return str(caught.value).splitlines()


def test_an_untouched_copy_loads(world_dir: Path) -> None:
    assert load_world(world_dir).start_room_id == "arkham.boarding_house"


def test_an_unknown_field_is_named_with_its_path(world_dir: Path) -> None:
    def add_typo(data: dict[str, Any]) -> None:
        data["rooms"][2]["exitz"] = {}

    edit(world_dir, "zones/harbour.yaml", add_typo)
    assert problems_of(world_dir) == ["zones/harbour.yaml: rooms[2].exitz: unknown field"]


def test_an_exit_to_a_missing_room_is_reported(world_dir: Path) -> None:
    docks = room_index(world_dir, "zones/harbour.yaml", "harbour.docks")

    def point_at_nowhere(data: dict[str, Any]) -> None:
        data["rooms"][docks]["exits"]["northeast"] = "harbour.pier"

    edit(world_dir, "zones/harbour.yaml", point_at_nowhere)
    assert problems_of(world_dir) == [
        f"zones/harbour.yaml: rooms[{docks}].exits.northeast: unknown room 'harbour.pier'"
    ]


def test_a_one_way_exit_is_reported(world_dir: Path) -> None:
    docks = room_index(world_dir, "zones/harbour.yaml", "harbour.docks")

    def add_one_way(data: dict[str, Any]) -> None:
        data["rooms"][docks]["exits"]["southeast"] = "harbour.warehouse"

    edit(world_dir, "zones/harbour.yaml", add_one_way)
    assert problems_of(world_dir) == [
        f"zones/harbour.yaml: rooms[{docks}].exits.southeast: "
        "'harbour.warehouse' has no exit northwest back to 'harbour.docks'"
    ]


def test_an_exit_whose_way_back_leads_elsewhere_is_reported(world_dir: Path) -> None:
    market = room_index(world_dir, "zones/harbour.yaml", "harbour.fish_market")

    def misroute(data: dict[str, Any]) -> None:
        data["rooms"][market]["exits"]["south"] = "harbour.warehouse_yard"

    edit(world_dir, "zones/harbour.yaml", misroute)
    problems = problems_of(world_dir)
    assert (
        f"zones/harbour.yaml: rooms[{market}].exits.south: 'harbour.warehouse_yard' has no "
        "exit north back to 'harbour.fish_market' (it leads to 'harbour.docks')"
    ) in problems


def test_a_missing_item_id_is_reported_where_it_is_used(world_dir: Path) -> None:
    yard = room_index(world_dir, "zones/harbour.yaml", "harbour.warehouse_yard")

    def drop_crowbar(data: dict[str, Any]) -> None:
        data["items"] = [item for item in data["items"] if item["id"] != "crowbar"]

    edit(world_dir, "items.yaml", drop_crowbar)
    assert problems_of(world_dir) == [
        f"zones/harbour.yaml: rooms[{yard}].items[0].item: unknown item 'crowbar'"
    ]


def test_missing_items_in_containers_loot_and_locks_are_all_reported(world_dir: Path) -> None:
    warehouse = room_index(world_dir, "zones/harbour.yaml", "harbour.warehouse")
    crypt = room_index(world_dir, "zones/graveyard.yaml", "graveyard.crypt")
    cultist = index_of(world_dir, "npcs.yaml", "npcs", "cultist")

    def drop_iron_key(data: dict[str, Any]) -> None:
        data["items"] = [item for item in data["items"] if item["id"] != "iron_key"]

    edit(world_dir, "items.yaml", drop_iron_key)
    problems = problems_of(world_dir)
    assert f"npcs.yaml: npcs[{cultist}].loot[2].item: unknown item 'iron_key'" in problems
    assert (
        f"zones/harbour.yaml: rooms[{warehouse}].containers[0].key: 'iron_key' is not a key item"
    ) in problems
    assert (
        f"zones/graveyard.yaml: rooms[{crypt}].containers[0].contents[0].item: "
        "unknown item 'iron_key'"
    ) in problems


def test_bad_yaml_syntax_names_the_file_and_line(world_dir: Path) -> None:
    (world_dir / "zones/graveyard.yaml").write_text("zone: {id: graveyard\nrooms: [\n")
    [problem] = problems_of(world_dir)
    assert problem.startswith("zones/graveyard.yaml: invalid YAML at line ")


def test_a_damage_range_upside_down_is_rejected(world_dir: Path) -> None:
    def invert(data: dict[str, Any]) -> None:
        data["items"][0]["damage"] = [7, 3]

    edit(world_dir, "items.yaml", invert)
    assert problems_of(world_dir) == [
        "items.yaml: items[0].damage: minimum 7 is greater than maximum 3"
    ]


def test_an_unknown_direction_names_the_exit(world_dir: Path) -> None:
    def misspell(data: dict[str, Any]) -> None:
        data["rooms"][0]["exits"]["norht"] = "arkham.garrison_street"

    edit(world_dir, "zones/arkham.yaml", misspell)
    [problem] = problems_of(world_dir)
    assert problem.startswith("zones/arkham.yaml: rooms[0].exits.norht: Input should be 'north'")


def test_a_spawn_chance_above_one_is_rejected(world_dir: Path) -> None:
    def overcommit(data: dict[str, Any]) -> None:
        data["spawns"][0]["chance"] = 1.5

    edit(world_dir, "zones/miskatonic.yaml", overcommit)
    [problem] = problems_of(world_dir)
    assert problem.startswith("zones/miskatonic.yaml: spawns[0].chance: ")


def test_a_spawn_of_an_unknown_npc_is_reported(world_dir: Path) -> None:
    def summon(data: dict[str, Any]) -> None:
        data["spawns"][0]["npc"] = "shoggoth"

    edit(world_dir, "zones/graveyard.yaml", summon)
    assert problems_of(world_dir) == ["zones/graveyard.yaml: spawns[0].npc: unknown npc 'shoggoth'"]


def test_a_locked_container_without_a_key_is_rejected(world_dir: Path) -> None:
    warehouse = room_index(world_dir, "zones/harbour.yaml", "harbour.warehouse")

    def lose_key(data: dict[str, Any]) -> None:
        del data["rooms"][warehouse]["containers"][0]["key"]

    edit(world_dir, "zones/harbour.yaml", lose_key)
    [problem] = problems_of(world_dir)
    assert problem.startswith(f"zones/harbour.yaml: rooms[{warehouse}].containers[0]: ")
    assert "needs a key" in problem


def test_a_duplicate_container_id_is_reported(world_dir: Path) -> None:
    office = room_index(world_dir, "zones/miskatonic.yaml", "miskatonic.sanitarium_office")

    def clone(data: dict[str, Any]) -> None:
        data["rooms"][office]["containers"][0]["id"] = "warehouse_strongbox"

    edit(world_dir, "zones/miskatonic.yaml", clone)
    [problem] = problems_of(world_dir)
    assert "containers[0].id: duplicate container id 'warehouse_strongbox'" in problem


def test_a_room_outside_its_zone_prefix_is_reported(world_dir: Path) -> None:
    def rename(data: dict[str, Any]) -> None:
        data["rooms"][-1]["id"] = "harbour.ghoul_warren"
        data["rooms"][-2]["exits"]["down"] = "harbour.ghoul_warren"

    edit(world_dir, "zones/graveyard.yaml", rename)
    problems = problems_of(world_dir)
    assert any(
        p.startswith("zones/graveyard.yaml: rooms[") and "must start with 'graveyard.'" in p
        for p in problems
    )


def test_an_unknown_start_room_is_reported(world_dir: Path) -> None:
    def move_start(data: dict[str, Any]) -> None:
        data["start_room"] = "arkham.nowhere"

    edit(world_dir, "world.yaml", move_start)
    assert problems_of(world_dir) == ["world.yaml: start_room: unknown room 'arkham.nowhere'"]


def test_a_missing_file_is_reported(world_dir: Path) -> None:
    (world_dir / "npcs.yaml").unlink()
    assert problems_of(world_dir) == ["npcs.yaml: file not found"]


def test_a_file_that_is_not_a_mapping_is_reported(world_dir: Path) -> None:
    (world_dir / "items.yaml").write_text("- just\n- a list\n")
    assert problems_of(world_dir) == ["items.yaml: the file must hold a mapping at the top level"]


def test_a_world_without_zone_files_is_reported(world_dir: Path) -> None:
    shutil.rmtree(world_dir / "zones")
    problems = problems_of(world_dir)
    assert "zones: no zone files (*.yaml) found" in problems


def test_problems_in_several_files_are_reported_together(world_dir: Path) -> None:
    def add_typo(data: dict[str, Any]) -> None:
        data["items"][1]["wieght"] = 3

    def drop_name(data: dict[str, Any]) -> None:
        del data["npcs"][0]["name"]

    edit(world_dir, "items.yaml", add_typo)
    edit(world_dir, "npcs.yaml", drop_name)
    assert problems_of(world_dir) == [
        "items.yaml: items[1].wieght: unknown field",
        "npcs.yaml: npcs[0].name: required field is missing",
    ]


def test_the_error_keeps_each_problem_for_callers(world_dir: Path) -> None:
    (world_dir / "npcs.yaml").unlink()
    with pytest.raises(WorldFileError) as caught:
        load_world(world_dir)
    [problem] = caught.value.problems
    assert (problem.file, problem.path, problem.reason) == ("npcs.yaml", "", "file not found")
