"""The one outbound path to players, and the frames it carries.

Services and commands never touch a socket: they hand frames to a ``Messenger`` with an
audience (one player, a room except some, everyone). The real-time layer implements it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from kadath.domain.player import Player
from kadath.domain.stats import MAX_LUCIDITY

Frame = dict[str, Any]


class Messenger(Protocol):
    def to_player(self, player_id: uuid.UUID, frame: Frame) -> None: ...

    def to_room(self, room_id: str, frame: Frame, *, exclude: Iterable[uuid.UUID] = ()) -> None: ...

    def to_world(self, frame: Frame) -> None: ...

    def to_players(self, player_ids: Iterable[uuid.UUID], frame: Frame) -> None: ...


def message(channel: str, text: str, sender: str | None = None) -> Frame:
    """Something said or shown: channel is say, emote, whisper, system, combat, broadcast, npc."""
    return {"type": "message", "channel": channel, "from": sender, "text": text}


def event(kind: str, text: str, **data: Any) -> Frame:
    """Something that happened: arrived, left, died, level_up, kicked, shutdown…"""
    return {"type": "event", "event": kind, "text": text, **data}


def state(vitals: dict[str, Any]) -> Frame:
    return {"type": "state", "vitals": vitals}


def room(view: dict[str, Any], text: str) -> Frame:
    return {"type": "room", "room": view, "text": text}


class FakeMessenger:
    """Records every frame by audience; for tests and for tools without players attached."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object, Frame]] = []

    def to_player(self, player_id: uuid.UUID, frame: Frame) -> None:
        self.sent.append(("player", player_id, frame))

    def to_room(self, room_id: str, frame: Frame, *, exclude: Iterable[uuid.UUID] = ()) -> None:
        self.sent.append(("room", (room_id, frozenset(exclude)), frame))

    def to_world(self, frame: Frame) -> None:
        self.sent.append(("world", None, frame))

    def to_players(self, player_ids: Iterable[uuid.UUID], frame: Frame) -> None:
        for player_id in player_ids:
            self.to_player(player_id, frame)

    def texts_for(self, audience: str) -> list[str]:
        return [str(f.get("text")) for kind, _, f in self.sent if kind == audience]


def vitals(player: Player, *, in_combat: bool = False) -> Frame:
    """A ``state`` frame with the character's current vitals."""
    return state(
        {
            "health": player.health,
            "max_health": player.max_health,
            "lucidity": player.lucidity,
            "max_lucidity": MAX_LUCIDITY,
            "experience": player.experience,
            "level": player.level,
            "in_combat": in_combat,
        }
    )
