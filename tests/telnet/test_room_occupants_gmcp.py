"""Room.Players and Room.Npcs are kept per (players, npcs) of a room view: the same crowd
gives the same bytes as encoding it afresh, and someone arriving or leaving gives new ones."""

from __future__ import annotations

from typing import Any

import pytest

from kadath.telnet import gmcp
from kadath.world import load_world

WORLD = load_world()
ROOM = next(iter(WORLD.rooms.values()))


def _frame(players: list[Any], npcs: list[Any]) -> dict[str, Any]:
    return {"type": "room", "room": {"id": ROOM.id, "players": players, "npcs": npcs}}


def _occupants(frame: dict[str, Any]) -> dict[str, bytes]:
    return dict(gmcp.encoded_frame(frame, WORLD)[1:])


def test_the_same_crowd_is_encoded_once_and_as_afresh() -> None:
    gmcp._occupants.clear()
    frame = _frame(["Ann", "Bob"], ["Ghoul"])
    first, again = gmcp.encoded_frame(frame, WORLD), gmcp.encoded_frame(frame, WORLD)
    assert first == again == gmcp.encoded(gmcp.messages(frame, WORLD))
    assert first[1][1] is again[1][1]
    assert len(gmcp._occupants) == 1


def test_an_arrival_or_a_departure_changes_the_lists() -> None:
    before = _occupants(_frame(["Ann"], ["Ghoul"]))
    arrived = _occupants(_frame(["Ann", "Bob"], ["Ghoul"]))
    npc_gone = _occupants(_frame(["Ann", "Bob"], []))
    assert b'"Bob"' not in before["Room.Players"] and b'"Bob"' in arrived["Room.Players"]
    assert b"Ghoul" in arrived["Room.Npcs"] and b"Ghoul" not in npc_gone["Room.Npcs"]
    assert _occupants(_frame(["Ann"], ["Ghoul"])) == before


def test_unhashable_names_are_encoded_without_the_cache() -> None:
    frame = _frame([{"odd": "name"}], [])
    assert gmcp.encoded_frame(frame, WORLD) == gmcp.encoded(gmcp.messages(frame, WORLD))


def test_the_cache_is_emptied_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gmcp, "OCCUPANTS_CACHE", 3)
    for n in range(10):
        assert f'"P{n}"'.encode() in _occupants(_frame([f"P{n}"], []))["Room.Players"]
        assert len(gmcp._occupants) <= 3
