"""GMCP for MUD clients: the packages a client asked for, and the messages a game frame makes."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from telnetlib3.telopt import GMCP, IAC, SB, SE

from kadath.domain.world import Direction, Room, World, Zone
from kadath.services.carried import CarriedItem
from kadath.telnet.render import channel_line

_compact_json = json.JSONEncoder(separators=(",", ":")).encode  # as json.dumps in gmcp_encode
Message = tuple[str, Any]
Encoded = tuple[str, bytes]  # (package, the whole IAC SB GMCP … IAC SE sequence)
SHORT_DIRECTIONS = {
    Direction.NORTH: "n",
    Direction.SOUTH: "s",
    Direction.EAST: "e",
    Direction.WEST: "w",
    Direction.NORTHEAST: "ne",
    Direction.NORTHWEST: "nw",
    Direction.SOUTHEAST: "se",
    Direction.SOUTHWEST: "sw",
    Direction.UP: "u",
    Direction.DOWN: "d",
}
CHANNELS = ("say", "emote", "whisper")
# frame type -> the packages ``messages`` may make of it (to skip building what nobody takes)
PACKAGES: Mapping[str, tuple[str, ...]] = {
    "welcome": ("Char.Name", "Char.Status", "Char.Vitals"),
    "state": ("Char.Vitals",),
    "room": ("Room.Info", "Room.Players", "Room.Npcs"),
    "message": ("Comm.Channel.Text",),
    "channel": ("Comm.Channel.Text",),
    "event": ("Room.AddPlayer", "Room.RemovePlayer", "Room.AddNpc", "Room.RemoveNpc"),
}


@functools.lru_cache(maxsize=1 << 16)
def room_num(room_id: str) -> int:
    """A room's number for mappers: a hash of its id, so it is the same after a restart."""
    digest = hashlib.blake2b(room_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF or 1


class GmcpClient:
    """What one client told us over GMCP: who it is and which packages it takes."""

    def __init__(self) -> None:
        self.packages: set[str] = set()
        self.hello: dict[str, Any] = {}
        self._accepted: dict[str, bool] = {}  # package -> accepts(package), until a change
        self._accepted_any: dict[tuple[str, ...], bool] = {}
        # called when the client asks for its inventory (Char.Items.Inv), once signed in
        self.on_items_request: Callable[[], None] | None = None

    def accepts_any(self, packages: tuple[str, ...]) -> bool:
        """Whether the client takes any of ``packages`` (answered once per tuple, until a
        change: asked for every frame)."""
        known = self._accepted_any.get(packages)
        if known is None:
            known = self._accepted_any[packages] = any(map(self.accepts, packages))
        return known

    def accepts(self, package: str) -> bool:
        """Core always; others when the client listed the package or one above it."""
        known = self._accepted.get(package)
        if known is None:
            parts = package.lower().split(".")
            known = parts[0] == "core" or any(
                ".".join(parts[:n]) in self.packages for n in range(1, len(parts) + 1)
            )
            self._accepted[package] = known
        return known

    def receive(self, package: str, data: Any) -> list[Message]:
        """Take a client's message; returns the answers to send."""
        name = package.lower()
        if name == "core.hello" and isinstance(data, dict):
            self.hello = {str(k): str(v)[:64] for k, v in list(data.items())[:8]}
        elif name in ("core.supports.set", "core.supports.add"):
            if name.endswith(".set"):
                self.packages.clear()
            self.packages.update(_names(data))
            self._forget()
        elif name == "core.supports.remove":
            self.packages.difference_update(_names(data))
            self._forget()
        elif name == "core.ping":
            return [("Core.Ping", None)]
        elif name == "char.items.inv" and self.on_items_request is not None:
            self.on_items_request()
        return []

    def _forget(self) -> None:
        self._accepted.clear()
        self._accepted_any.clear()


def _names(data: Any) -> set[str]:
    if not isinstance(data, list):
        return set()
    names = (str(entry).split(" ", 1)[0].lower() for entry in data[:64])
    return {name for name in names if 0 < len(name) <= 64}


def messages(frame: Mapping[str, Any], world: World) -> list[Message]:
    """The GMCP messages a game frame makes (before filtering by what the client takes)."""
    kind = frame.get("type")
    if kind == "welcome":
        return _welcome(frame.get("player") or {})
    if kind == "state":
        return [("Char.Vitals", vitals(frame.get("vitals") or {}))]
    if kind == "room":
        return _room(frame.get("room") or {}, world)
    if kind == "message" and frame.get("channel") in CHANNELS:
        text = {"channel": frame["channel"], "talker": frame.get("from"), "text": frame["text"]}
        return [("Comm.Channel.Text", text)]
    if kind == "channel":
        said = {"channel": frame.get("channel"), "talker": frame.get("from")}
        return [("Comm.Channel.Text", {**said, "text": channel_line(frame)})]
    if kind == "event" and frame.get("event") in ("arrived", "left") and frame.get("name"):
        return [_coming_or_going(frame)]
    return []


def encoded_frame(frame: Mapping[str, Any], world: World) -> list[Encoded]:
    """``encoded(messages(frame, world))``, with a room's ``Room.Info`` encoded once per room
    (it changes only when the world does), not for every look and step."""
    if frame.get("type") != "room":
        return encoded(messages(frame, world))
    view = frame.get("room") or {}
    room = world.rooms.get(str(view.get("id")))
    if room is None:
        return []
    zone = world.zones.get(room.zone_id)
    known = _room_info.get(room.id)
    if known is None or known[0] is not room or known[1] is not zone:
        if len(_room_info) >= ROOM_INFO_CACHE:
            _room_info.clear()
        info = encoded([_room_info_message(room, world)])[0]
        known = _room_info[room.id] = (room, zone, info)
    return [known[2], *_occupants_encoded(view)]


def _occupants_encoded(view: Mapping[str, Any]) -> list[Encoded]:
    """Room.Players and Room.Npcs for a room view, kept per (players, npcs): the same few
    rooms and crowds come back with every look and step."""
    try:
        key = (tuple(view.get("players") or ()), tuple(view.get("npcs") or ()))
        known = _occupants.get(key)
    except TypeError:  # names that are not plain values: nothing to key on
        return encoded(_room_occupants(view))
    if known is None:
        if len(_occupants) >= OCCUPANTS_CACHE:
            _occupants.clear()
        known = _occupants[key] = encoded(_room_occupants(view))
    return known


# room id -> (the room and zone it was made for, Room.Info as sent): made again when the world
# is reloaded with another room or zone object
_room_info: dict[str, tuple[Room, Zone | None, Encoded]] = {}
ROOM_INFO_CACHE = 1 << 14
# (players, npcs) of a room view -> its Room.Players and Room.Npcs as sent; emptied when full
_occupants: dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[Encoded]] = {}
OCCUPANTS_CACHE = 4096


def encoded(messages: Sequence[Message]) -> list[Encoded]:
    """Each message as the bytes that carry it (IAC escaped), ready for any client that
    takes its package: a frame sent to a room is encoded once for all its listeners."""
    return [
        (package, IAC + SB + GMCP + _payload(package, data).replace(IAC, IAC + IAC) + IAC + SE)
        for package, data in messages
    ]


def _payload(package: str, data: Any) -> bytes:
    """telnetlib3's ``gmcp_encode``, with one JSON encoder made once instead of per call."""
    if data is None:
        return package.encode()
    return f"{package} {_compact_json(data)}".encode()


def _coming_or_going(frame: Mapping[str, Any]) -> Message:
    verb = "Add" if frame["event"] == "arrived" else "Remove"
    if frame.get("npc"):
        return f"Room.{verb}Npc", {"name": frame["name"]}
    return f"Room.{verb}Player", {"name": frame["name"], "fullname": frame["name"]}


def vitals(values: Mapping[str, Any]) -> dict[str, Any]:
    """Char.Vitals from the game's vitals (or a welcome's player)."""
    hp, max_hp = values.get("health"), values.get("max_health")
    luc = values.get("lucidity")
    return {
        "hp": hp,
        "maxhp": max_hp,
        "lucidity": luc,
        "maxlucidity": values.get("max_lucidity", 100),
        "level": values.get("level"),
        "xp": values.get("experience"),
        "string": f"HP {hp}/{max_hp} Luc {luc}/{values.get('max_lucidity', 100)}",
    }


def _welcome(player: Mapping[str, Any]) -> list[Message]:
    name = player.get("name")
    status = {"level": player.get("level"), "profession": player.get("profession")}
    return [
        ("Char.Name", {"name": name, "fullname": name}),
        ("Char.Status", status),
        ("Char.Vitals", vitals(player)),
    ]


def _room(view: Mapping[str, Any], world: World) -> list[Message]:
    room = world.rooms.get(str(view.get("id")))
    if room is None:
        return []
    return [_room_info_message(room, world), *_room_occupants(view)]


def _room_info_message(room: Room, world: World) -> Message:
    info = {
        "num": room_num(room.id),
        "name": room.name,
        "area": world.zones[room.zone_id].name if room.zone_id in world.zones else room.zone_id,
        "environment": room.zone_id,
        "exits": {SHORT_DIRECTIONS[d]: room_num(dest) for d, dest in room.exits.items()},
    }
    return ("Room.Info", info)


def _room_occupants(view: Mapping[str, Any]) -> list[Message]:
    players = [{"name": n, "fullname": n} for n in view.get("players") or []]
    npcs = [{"name": n} for n in view.get("npcs") or []]
    return [("Room.Players", players), ("Room.Npcs", npcs)]


def items_list(carried: Sequence[CarriedItem]) -> dict[str, Any]:
    """Char.Items.List for the inventory, in IRE's form: ``attrib`` letters ``w`` worn, ``W``
    wearable, ``l`` wielded, ``c`` container (left out when none applies)."""
    return {"location": "inv", "items": [_item(item) for item in carried]}


def _item(item: CarriedItem) -> dict[str, str]:
    attrib = ""
    if item.worn_slot == "wield":
        attrib = "l"
    elif item.worn_slot is not None:
        attrib = "w"
    elif item.wearable:
        attrib = "W"
    if item.container:
        attrib += "c"
    entry = {"id": item.id, "name": item.name}
    if attrib:
        entry["attrib"] = attrib
    return entry
