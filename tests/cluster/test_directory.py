"""``who``, ``whisper`` and ``broadcast`` between two processes' directories on a private NATS
server: every holder is heard, a holder that does not answer makes ``who`` partial, a whisper
reaches the process where its target is in play, a broadcast the other process once, a play
claim the other process and not its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import nats.js.errors
import pytest
from kadath_cluster import PrivateNats
from testkit import player_named

from kadath.cluster import directory
from kadath.cluster.directory import ClusterDirectory
from kadath.cluster.leases import LeaseValue, zone_key
from kadath.domain.errors import NotAllowed
from kadath.services.chat import ChatService
from kadath.services.events import LocalEventBus
from kadath.services.messenger import FakeMessenger
from kadath.services.presence import Presence

WITHIN = 20.0


@dataclass
class Entry:
    value: bytes


class Leases:
    """The lease bucket as the directory reads it: zone -> owner."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners

    async def get(self, key: str) -> Entry:
        for zone, owner in self.owners.items():
            if zone_key(zone) == key:
                return Entry(LeaseValue(owner, 1).encode())
        raise nats.js.errors.KeyNotFoundError


class Messenger(FakeMessenger):
    """Records, and says when something went to the world."""

    def __init__(self) -> None:
        super().__init__()
        self.to_everyone = asyncio.Event()

    def to_world(self, frame: Any) -> None:
        super().to_world(frame)
        self.to_everyone.set()


class Heard:
    """The play claims a directory heard of."""

    def __init__(self) -> None:
        self.claims: list[tuple[uuid.UUID, int]] = []
        self.any = asyncio.Event()

    def __call__(self, player_id: uuid.UUID, claim: int) -> None:
        self.claims.append((player_id, claim))
        self.any.set()


@dataclass
class Node:
    presence: Presence
    messenger: Messenger
    chat: ChatService
    directory: ClusterDirectory
    heard: Heard


@pytest.fixture
async def nodes(nats_server: PrivateNats) -> AsyncIterator[tuple[Node, Node, Leases]]:
    leases = Leases({"arkham": "alpha", "miskatonic": "beta"})
    connections, made = [], []
    for name in ("alpha", "beta"):
        nc = await nats.connect(nats_server.url)
        connections.append(nc)
        presence, messenger = Presence(), Messenger()
        chat = ChatService(presence, messenger, LocalEventBus())
        kv: Any = leases
        heard = Heard()
        directory = ClusterDirectory(
            nc,
            name,
            chat,
            kv,
            ["arkham", "miskatonic", "dunwich"],
            claimed_elsewhere=heard,
        )
        await directory.start()
        chat.elsewhere = directory
        made.append(Node(presence, messenger, chat, directory, heard))
    try:
        # Wait until each directory hears the other (a bound, not a measure).
        async with asyncio.timeout(WITHIN):
            for node in made:
                while not (await node.chat.who_anywhere())[1]:
                    pass
        yield made[0], made[1], leases
    finally:
        for node in made:
            await node.directory.stop()
        for nc in connections:
            await nc.drain()


async def test_who_lists_the_other_process_and_says_when_a_holder_is_silent(
    nodes: tuple[Node, Node, Leases],
) -> None:
    alpha, beta, leases = nodes
    carter, wilbur = player_named("Carter"), player_named("wilbur")
    alpha.presence.enter(carter)
    beta.presence.enter(wilbur)
    async with asyncio.timeout(WITHIN):
        listed, complete = await alpha.chat.who_anywhere()
        assert ([p.name for p in listed], complete) == (["Carter", "wilbur"], True)
        listed, complete = await beta.chat.who_anywhere()
        assert ([p.name for p in listed], complete) == (["Carter", "wilbur"], True)
        leases.owners["dunwich"] = "gamma"  # holds a zone, never answers
        # The holders read a moment ago stand for HOLDERS_FOR: gamma is expected after it.
        await asyncio.sleep(directory.HOLDERS_FOR)
        listed, complete = await alpha.chat.who_anywhere()
        assert ([p.name for p in listed], complete) == (["Carter", "wilbur"], False)


async def test_a_whisper_reaches_its_target_on_the_other_process_or_nobody(
    nodes: tuple[Node, Node, Leases],
) -> None:
    alpha, beta, _ = nodes
    carter, wilbur = player_named("Carter"), player_named("Wilbur")
    alpha.presence.enter(carter)
    beta.presence.enter(wilbur)
    async with asyncio.timeout(WITHIN):
        reply = await alpha.chat.whisper_anywhere(carter, "wil", "The key  is\there.")
        assert reply == 'You whisper to Wilbur, "The key is here."'
        assert beta.messenger.sent[-1][0:2] == ("player", wilbur.id)
        assert beta.messenger.sent[-1][2]["text"] == 'Carter whispers to you, "The key is here."'
        assert await alpha.directory.whisper(carter, "Nyarlathotep", "hi") is None
        beta.presence.enter(carter)  # the same character in play there too (mid hand-over)
        alpha.presence.leave(carter.id)
        with pytest.raises(NotAllowed, match="mutter"):
            await alpha.directory.whisper(carter, "Carter", "hi")


async def test_a_broadcast_reaches_the_other_process_once(
    nodes: tuple[Node, Node, Leases],
) -> None:
    alpha, beta, _ = nodes
    warden = player_named("Warden")
    warden.role = warden.role.ADMIN
    async with asyncio.timeout(WITHIN):
        assert await alpha.chat.broadcast_anywhere(warden, "The gate opens.") == "Broadcast sent."
        await beta.messenger.to_everyone.wait()
    assert [(k, f["text"]) for k, _, f in beta.messenger.sent] == [
        ("world", "[Broadcast] The gate opens.")
    ]
    assert [k for k, _, _ in alpha.messenger.sent] == ["world"]


async def test_a_claim_is_heard_by_the_other_process_not_by_its_own(
    nodes: tuple[Node, Node, Leases],
) -> None:
    alpha, beta, _ = nodes
    player_id = uuid.uuid4()
    await alpha.directory.claimed(player_id, 7)
    async with asyncio.timeout(WITHIN):
        await beta.heard.any.wait()
        await alpha.directory.who()  # a round trip: alpha would have heard its own claim by now
    assert beta.heard.claims == [(player_id, 7)]
    assert alpha.heard.claims == []
