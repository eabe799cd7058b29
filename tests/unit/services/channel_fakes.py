"""Test doubles for channels and ignoring: a store with memberships, ignores and messages, and
units of work over it whose writes land only on commit (and can be made to fail)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from testkit import player_named

from kadath.domain.account import Role
from kadath.domain.channel import ChannelMessage, Membership
from kadath.domain.errors import DatabaseUnavailable, PlayerNotFound
from kadath.domain.events import PlayerLoggedIn, PlayerLoggedOut
from kadath.domain.player import Player
from kadath.services.channel_history import ChannelHistory
from kadath.services.channel_members import ChannelMembers
from kadath.services.channels import ChannelService
from kadath.services.chat import ChatService, SpeechGuard, allow_speech
from kadath.services.clock import FakeClock
from kadath.services.events import LocalEventBus
from kadath.services.ignores import IgnoreService
from kadath.services.messenger import FakeMessenger
from kadath.services.presence import Presence


@dataclass
class Rows:
    memberships: dict[tuple[uuid.UUID, str], Membership] = field(default_factory=dict)
    ignores: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)
    messages: list[ChannelMessage] = field(default_factory=list)


@dataclass
class FakeStore:
    rows: Rows = field(default_factory=Rows)
    players: dict[str, Player] = field(default_factory=dict)  # by casefolded name
    down: bool = False  # every unit of work fails, as in an outage
    commits: int = 0
    # When set, a commit waits on it once its rows are stored, as closing the session would.
    after_commit: asyncio.Event | None = None


class _Channels:
    def __init__(self, rows: Rows) -> None:
        self._rows = rows

    async def memberships(self, player_id: uuid.UUID) -> list[Membership]:
        return [m for (p, _), m in self._rows.memberships.items() if p == player_id]

    async def save_membership(self, player_id: uuid.UUID, membership: Membership) -> None:
        self._rows.memberships[player_id, membership.channel] = membership

    async def append_messages(self, messages: Sequence[ChannelMessage]) -> None:
        self._rows.messages.extend(messages)

    async def trim(self, channel: str, keep: int) -> int:
        mine = [m for m in self._rows.messages if m.channel == channel]
        doomed = mine[:-keep]
        self._rows.messages = [m for m in self._rows.messages if m not in doomed]
        return len(doomed)

    async def recent_messages(self, channel: str, limit: int) -> list[ChannelMessage]:
        return [m for m in self._rows.messages if m.channel == channel][-limit:]


class _Ignores:
    def __init__(self, rows: Rows, store: FakeStore) -> None:
        self._rows, self._store = rows, store

    async def ignored(self, player_id: uuid.UUID) -> dict[uuid.UUID, str]:
        names = {p.id: p.name for p in self._store.players.values()}
        return {i: names[i] for p, i in self._rows.ignores if p == player_id}

    async def ignore(self, player_id: uuid.UUID, ignored_id: uuid.UUID) -> bool:
        known = (player_id, ignored_id) in self._rows.ignores
        self._rows.ignores.add((player_id, ignored_id))
        return not known

    async def unignore(self, player_id: uuid.UUID, ignored_id: uuid.UUID) -> bool:
        known = (player_id, ignored_id) in self._rows.ignores
        self._rows.ignores.discard((player_id, ignored_id))
        return known


class _Players:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def get_player_by_name(self, name: str) -> Player:
        player = self._store.players.get(name.casefold())
        if player is None:
            raise PlayerNotFound(f"There is no character called {name}.")
        return player


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._rows: Rows | None = None

    async def __aenter__(self) -> FakeUnitOfWork:
        if self._store.down:
            raise DatabaseUnavailable("The database does not answer.")
        self._rows = copy.deepcopy(self._store.rows)
        self.channels = _Channels(self._rows)
        self.ignores = _Ignores(self._rows, self._store)
        self.players = _Players(self._store)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        rows, self._rows = self._rows, None
        if exc_type is None and rows is not None:
            if self._store.down:
                raise DatabaseUnavailable("The database does not answer.")
            self._store.rows = rows
            self._store.commits += 1
            if self._store.after_commit is not None:
                await self._store.after_commit.wait()


@dataclass
class ChannelWorld:
    """Channels wired from fakes; ``enter`` puts a character in play as entering would."""

    store: FakeStore
    presence: Presence
    messenger: FakeMessenger
    bus: LocalEventBus
    ignores: IgnoreService
    members: ChannelMembers
    history: ChannelHistory
    channels: ChannelService
    chat: ChatService

    async def enter(self, name: str, *, admin: bool = False, room: str = "town.square") -> Player:
        player = player_named(name, room)
        player.role = Role.ADMIN if admin else Role.PLAYER
        self.store.players[name.casefold()] = player
        return await self.come_back(player)

    async def come_back(self, player: Player) -> Player:
        self.presence.enter(player)
        await self.bus.publish(PlayerLoggedIn(player.id, player.room_id))
        return player

    async def leave(self, player: Player) -> None:
        self.presence.leave(player.id)
        await self.bus.publish(PlayerLoggedOut(player.id, player.room_id))

    def channel_frames_for(self, player: Player) -> list[dict[str, Any]]:
        return [
            f
            for kind, to, f in self.messenger.sent
            if kind == "player" and to == player.id and f["type"] == "channel"
        ]


def channel_world(can_speak: SpeechGuard = allow_speech, kept: int = 100) -> ChannelWorld:
    store, presence, messenger, bus = FakeStore(), Presence(), FakeMessenger(), LocalEventBus()

    def uow() -> Any:
        return FakeUnitOfWork(store)

    ignores = IgnoreService(presence, uow, uow)
    ignores.subscribe(bus)
    members = ChannelMembers(presence, uow, uow)
    members.subscribe(bus)
    history = ChannelHistory(uow, uow, kept)
    channels = ChannelService(
        presence, messenger, members, history, ignores, clock=FakeClock(), can_speak=can_speak
    )
    chat = ChatService(presence, messenger, bus, ignores=ignores, can_speak=can_speak)
    return ChannelWorld(store, presence, messenger, bus, ignores, members, history, channels, chat)
