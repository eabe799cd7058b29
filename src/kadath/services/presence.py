"""Who is in the world right now, and where: the in-memory state every command reads first.

The database holds the truth between sessions; ``Presence`` holds the characters in play,
indexed by id, by name and by room, so a ``look`` or a ``say`` needs no query."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

from kadath.domain.player import Player, name_key


class Presence:
    def __init__(self) -> None:
        self._players: dict[uuid.UUID, Player] = {}
        self._by_name: dict[str, uuid.UUID] = {}
        self._rooms: dict[str, dict[uuid.UUID, None]] = {}
        self._dirty: set[uuid.UUID] = set()
        self._explored: dict[uuid.UUID, set[str]] = {}
        self._gates: dict[uuid.UUID, _Gate] = {}
        self._by_name_order: list[Player] | None = None  # ``sorted_by_name``, until a change
        # Counts every entry, leaving and move: what is worked out from who is where (``who``'s
        # lines) is kept for one version.
        self.version = 0
        self._names: dict[str, tuple[str, ...]] = {}  # ``names_in_room``, until a change there
        # ``serve --cluster`` only (None in one process: nothing tracked): whether this process
        # runs a room's zone, and the room each character was last run in here (``served_room``).
        self.runs_room: Callable[[str], bool] | None = None
        self._served: dict[uuid.UUID, str] = {}

    @contextlib.asynccontextmanager
    async def gate(self, player_id: uuid.UUID) -> AsyncIterator[None]:
        """Hold one character's gate: entering play and deleting the character each hold it,
        so a delete never slips between an entry's load and its arrival (one process only)."""
        gate = self._gates.setdefault(player_id, _Gate())
        gate.users += 1
        try:
            async with gate.lock:
                yield
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[player_id]

    def enter(self, player: Player, explored: set[str] | None = None) -> None:
        """Put a character into play (replacing a stale copy of the same one)."""
        self.leave(player.id)
        self._explored[player.id] = explored if explored is not None else set()
        self._players[player.id] = player
        self._by_name[name_key(player.name)] = player.id
        self._rooms.setdefault(player.room_id, {})[player.id] = None
        self._names.pop(player.room_id, None)
        self._by_name_order = None
        self.version += 1
        if self.runs_room is not None:
            self._served[player.id] = player.room_id

    def leave(self, player_id: uuid.UUID) -> Player | None:
        player = self._players.pop(player_id, None)
        if player is None:
            return None
        self._by_name.pop(name_key(player.name), None)
        self._remove_from_room(player.room_id, player_id)
        self._dirty.discard(player_id)
        self._explored.pop(player_id, None)
        self._served.pop(player_id, None)
        self._by_name_order = None
        self.version += 1
        return player

    def served_room(self, player_id: uuid.UUID) -> str | None:
        """The last room this process ran the character in (where it entered play, or the
        last room it walked into whose zone was run here); None in one process. A character
        who walked into a zone held elsewhere was still served in the zone it came from."""
        return self._served.get(player_id)

    def explored(self, player_id: uuid.UUID) -> set[str]:
        """The rooms an online character has visited (loaded when they entered play)."""
        return self._explored.setdefault(player_id, set())

    def move(self, player: Player, room_id: str) -> str:
        """Move an online character; returns the room left. Marks the position for saving.
        A character that has left play (a death committing as it logged out) is only
        updated, never put back into a room's index."""
        old = player.room_id
        player.room_id = room_id
        if self._players.get(player.id) is not player:
            return old
        self._remove_from_room(old, player.id)
        self._rooms.setdefault(room_id, {})[player.id] = None
        self._names.pop(room_id, None)
        self.version += 1
        self._dirty.add(player.id)
        if self.runs_room is not None and self.runs_room(room_id):
            self._served[player.id] = room_id
        return old

    def get(self, player_id: uuid.UUID) -> Player | None:
        return self._players.get(player_id)

    def find(self, name: str) -> Player | None:
        """An online character by name, in any case, or by a unique prefix."""
        key = name_key(name)
        player_id = self._by_name.get(key)
        if player_id is not None:
            return self._players[player_id]
        matches = [pid for k, pid in self._by_name.items() if k.startswith(key)]
        return self._players[matches[0]] if len(matches) == 1 else None

    def in_room(self, room_id: str) -> list[Player]:
        return [self._players[pid] for pid in self._rooms.get(room_id, ())]

    def names_in_room(self, room_id: str) -> tuple[str, ...]:
        """The names of the characters in a room, in the order they came (as ``in_room``);
        kept until someone enters or leaves it."""
        names = self._names.get(room_id)
        if names is None:
            names = self._names[room_id] = tuple(
                [self._players[pid].name for pid in self._rooms.get(room_id, ())]
            )
        return names

    def ids_in_room(self, room_id: str) -> list[uuid.UUID]:
        return list(self._rooms.get(room_id, ()))

    def all(self) -> list[Player]:
        return list(self._players.values())

    def sorted_by_name(self) -> list[Player]:
        """Everyone in play, by name (case-insensitively). The order is kept until someone
        enters or leaves play (names do not change in play), so ``who`` does not sort a
        thousand names each time."""
        if self._by_name_order is None:
            self._by_name_order = sorted(self._players.values(), key=lambda p: p.name.casefold())
        return list(self._by_name_order)

    def __len__(self) -> int:
        return len(self._players)

    def __contains__(self, player_id: object) -> bool:
        return player_id in self._players

    def mark_dirty(self, player_id: uuid.UUID) -> None:
        if player_id in self._players:
            self._dirty.add(player_id)

    def take_dirty(self) -> list[Player]:
        """The online characters changed since the last call (for the batched save)."""
        dirty, self._dirty = self._dirty, set()
        return [self._players[pid] for pid in dirty if pid in self._players]

    def _remove_from_room(self, room_id: str, player_id: uuid.UUID) -> None:
        self._names.pop(room_id, None)
        occupants = self._rooms.get(room_id)
        if occupants is not None:
            occupants.pop(player_id, None)
            if not occupants:
                del self._rooms[room_id]


class _Gate:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
