"""Saving zones: what is written loads back unchanged, a refused world writes nothing."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from kadath.cli import main
from kadath.domain.world import Direction
from kadath.world import DEFAULT_WORLD_DIR, WorldFileError, load_world
from kadath.world.writer import find_world_problems, write_zone


@pytest.fixture
def world_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "world"
    shutil.copytree(DEFAULT_WORLD_DIR, directory)
    return directory


def test_every_zone_saved_loads_back_unchanged(world_dir: Path) -> None:
    world = load_world(world_dir)
    for zone_id in world.zones:
        write_zone(world_dir, world, zone_id)
    again = load_world(world_dir)
    assert again.rooms == world.rooms
    assert again.zones == world.zones
    assert again.containers == world.containers
    assert again.spawns == world.spawns


def test_saving_twice_writes_the_same_bytes_and_keeps_a_backup(world_dir: Path) -> None:
    world = load_world(world_dir)
    path = write_zone(world_dir, world, "arkham")
    first = path.read_text(encoding="utf-8")
    write_zone(world_dir, load_world(world_dir), "arkham")
    assert path.read_text(encoding="utf-8") == first
    assert (world_dir / "zones/arkham.yaml.bak").read_text(encoding="utf-8") == first
    assert first.startswith("# Arkham proper")  # the file's leading comment is kept


def test_a_changed_room_is_written_and_read_back(world_dir: Path) -> None:
    world = load_world(world_dir)
    square = world.rooms["arkham.boarding_house"]
    world.rooms[square.id] = dataclasses.replace(square, description="Dust, and a clock.")
    write_zone(world_dir, world, "arkham")
    assert load_world(world_dir).rooms[square.id].description == "Dust, and a clock."


def test_a_broken_world_is_refused_and_the_file_left_alone(world_dir: Path) -> None:
    world = load_world(world_dir)
    before = (world_dir / "zones/arkham.yaml").read_bytes()
    parlour = world.rooms["arkham.boarding_house"]
    exits = {**parlour.exits, Direction.NORTH: "arkham.nowhere"}
    world.rooms[parlour.id] = dataclasses.replace(parlour, exits=exits)
    with pytest.raises(WorldFileError) as caught:
        write_zone(world_dir, world, "arkham")
    assert str(caught.value).startswith("zones/arkham.yaml: rooms[0].exits.north: unknown room")
    assert (world_dir / "zones/arkham.yaml").read_bytes() == before
    assert not (world_dir / "zones/arkham.yaml.bak").exists()
    assert list((world_dir / "zones").glob(".*")) == []  # no temporary file left behind


def test_a_bad_field_is_named_as_the_loader_names_it(world_dir: Path) -> None:
    world = load_world(world_dir)
    parlour = world.rooms["arkham.boarding_house"]
    world.rooms[parlour.id] = dataclasses.replace(parlour, name="   ")
    problems = [str(p) for p in find_world_problems(world)]
    assert problems == ["zones/arkham.yaml: rooms[0].name: String should have at least 1 character"]


def test_world_check_prints_a_summary(world_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "check", str(world_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 42 rooms in 4 zones")
    assert "3 help topics" in out


def test_world_check_names_each_bad_file_and_field(
    world_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = world_dir / "zones/harbour.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("exits:", "exitz:", 1), "utf-8")
    (world_dir / "help/rules.md").write_text("no title here\n", encoding="utf-8")
    assert main(["world", "check", str(world_dir)]) == 1
    err = capsys.readouterr().err
    assert "zones/harbour.yaml: rooms[0].exitz: unknown field" in err
    assert "help/rules.md: a topic starts with a '# Title' line, then text" in err
