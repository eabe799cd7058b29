"""ProfessionRepository (seeded by the migration) and RoomRepository (the world file cache)."""

from __future__ import annotations

from typing import Any

import pytest

from kadath.domain.errors import ProfessionNotFound, RoomNotFound
from kadath.domain.world import World
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.persistence.models import ProfessionRow


async def test_all_eight_professions_are_listed_in_id_order(
    persistence: AsyncPersistenceLayer, stored: Any
) -> None:
    professions = await persistence.get_all_professions()

    assert [p.id for p in professions] == list(range(1, 9))
    assert len(professions) == await stored.count(ProfessionRow)
    assert professions[0].name == "Drifter"
    assert professions[0].requirements == {}


async def test_a_profession_reads_back_with_its_requirements(
    persistence: AsyncPersistenceLayer,
) -> None:
    dock = await persistence.get_profession_by_id(3)

    assert dock.name == "Dock Worker"
    assert dock.requirements == {"strength": 12, "constitution": 11}
    assert "Kingsport" in dock.description


@pytest.mark.parametrize("profession_id", [0, -1, 9, 10_000, True, "1", 1.0, None])
async def test_unknown_profession_ids_are_refused(
    persistence: AsyncPersistenceLayer, profession_id: Any
) -> None:
    with pytest.raises(ProfessionNotFound):
        await persistence.get_profession_by_id(profession_id)


async def test_a_room_is_served_from_the_world(
    persistence: AsyncPersistenceLayer, small_world: World
) -> None:
    room = await persistence.get_room_by_id("town.street")

    assert room is small_world.rooms["town.street"]
    assert room.name == "A Street"


@pytest.mark.parametrize("room_id", ["nowhere", "", "TOWN.SQUARE", None, 3])
async def test_unknown_rooms_are_refused(persistence: AsyncPersistenceLayer, room_id: Any) -> None:
    with pytest.raises(RoomNotFound):
        await persistence.get_room_by_id(room_id)


async def test_rooms_are_listed_sorted_and_by_zone(persistence: AsyncPersistenceLayer) -> None:
    assert [r.id for r in await persistence.list_rooms()] == [
        "harbour.dock",
        "town.square",
        "town.street",
    ]
    assert [r.id for r in await persistence.list_rooms("town")] == ["town.square", "town.street"]
    assert [r.id for r in await persistence.list_rooms("harbour")] == ["harbour.dock"]
    assert await persistence.list_rooms("atlantis") == []
