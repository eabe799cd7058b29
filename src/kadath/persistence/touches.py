"""Which rooms' floors and containers a unit of work changed, told to listeners after commit
(the room view cache forgets them); and the rooms it saved characters' positions in. Both
name the zones a fenced unit of work must hold (``kadath serve --cluster``)."""

from __future__ import annotations

from kadath.domain.item import Location, OnFloor


class RoomTouches:
    def __init__(self) -> None:
        self.rooms: set[str] = set()
        self.positions: set[str] = set()

    def room(self, room_id: str | None) -> None:
        if room_id is not None:
            self.rooms.add(room_id)

    def position(self, room_id: str) -> None:
        self.positions.add(room_id)

    def location(self, location: Location) -> None:
        if isinstance(location, OnFloor):
            self.rooms.add(location.room_id)
