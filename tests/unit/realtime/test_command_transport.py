"""A transport that makes commands itself (telnet's typed lines) hands them to the connection
as they are: no JSON round trip, the same rules as a parsed command frame."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from testkit import player_named

from kadath.commands.base import Reply
from kadath.domain.account import Account
from kadath.domain.player import Player
from kadath.realtime.connection import ConnectionHandler, ConnectionLimits
from kadath.realtime.hub import Hub
from kadath.realtime.outgoing import Delivery
from kadath.realtime.protocol import CommandFrame
from kadath.realtime.transport import CommandTransport, TransportClosed
from kadath.services.presence import Presence

ACCOUNT = Account(uuid.uuid4(), "someone", "x")


class Typist:
    """Says hello as JSON, then hands over commands it made itself."""

    def __init__(self, name: str, commands: list[CommandFrame]) -> None:
        self.remote = "127.0.0.1:1"
        self.script: list[str | CommandFrame] = [
            json.dumps({"type": "hello", "token": "t", "player": name}),
            *commands,
        ]
        self.sent: list[dict[str, Any]] = []
        self.done = asyncio.Event()

    async def receive_frame(self) -> str | CommandFrame:
        if self.script:
            await asyncio.sleep(0)
            return self.script.pop(0)
        await self.done.wait()
        raise TransportClosed

    async def receive_text(self) -> str:
        """Only the hello is read as text."""
        frame = await self.receive_frame()
        if isinstance(frame, CommandFrame):
            self.sent.append({"type": "test-failure", "re": frame.id})
            raise TransportClosed  # a command was asked for as text
        return frame

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        self.sent.extend(json.loads(frame.text(seq)) for seq, frame in batch)

    def use_batches(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass

    def abort(self) -> None:
        pass


async def test_commands_handed_over_are_dispatched_under_the_rules_of_parsed_ones() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=0)
    player = player_named("Typist")
    presence.enter(player)
    dispatched: list[str] = []

    async def describe(player: Player) -> tuple[dict[str, Any], str]:
        return {"id": player.room_id, "name": "A room", "exits": []}, "A room."

    class Dispatcher:
        game = SimpleNamespace(
            presence=presence, rooms=SimpleNamespace(describe=describe), professions={}
        )

        async def dispatch(self, player: Player, text: str) -> Reply:
            dispatched.append(text)
            return Reply(True, f"did {text}")

    class Entry:
        async def enter(self, player_id: uuid.UUID) -> Player:
            return player

        async def leave(self, player_id: uuid.UUID) -> None:
            pass

    async def authorize(token: str, name: str) -> tuple[Account, Player]:
        return ACCOUNT, player

    handler = ConnectionHandler(
        hub,
        Entry(),  # type: ignore[arg-type]
        Dispatcher(),  # type: ignore[arg-type]
        authorize,
        ConnectionLimits(max_line=20),
    )
    typist = Typist(
        "Typist",
        [
            CommandFrame("t1", "say\x07 hi"),
            CommandFrame("t2", "x" * 21),
            CommandFrame("t3", "look"),
        ],
    )
    assert isinstance(typist, CommandTransport)
    serving = asyncio.create_task(handler.serve(typist))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if any(frame.get("re") == "t3" for frame in typist.sent):
            break
    typist.done.set()
    await serving
    await hub.shutdown()

    assert dispatched == ["say hi", "look"]  # the control character dropped, as parse drops it
    answers = [(f["type"], f.get("re"), f.get("code")) for f in typist.sent if f.get("re")]
    assert answers == [("reply", "t1", None), ("error", "t2", "too_long"), ("reply", "t3", None)]
