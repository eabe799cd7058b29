"""Small builders shared by unit tests."""

from __future__ import annotations

import uuid

from kadath.domain.player import Player
from kadath.domain.stats import Stats


def player_named(name: str, room: str = "town.square") -> Player:
    return Player(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        name=name,
        room_id=room,
        respawn_room_id=room,
        stats=Stats(10, 10, 10, 10, 10, 10),
        health=20,
        max_health=20,
        profession_id=1,
    )
