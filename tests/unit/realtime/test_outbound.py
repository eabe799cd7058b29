"""The outbound path: shared frames encoded once, batches taken whole, seq without gaps, the
queue's bound, and a command's reply ahead of the room fan-out it caused."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from testkit import player_named

from kadath.commands.base import Reply
from kadath.domain.account import Account
from kadath.domain.player import Player
from kadath.realtime import outgoing
from kadath.realtime.connection import ConnectionHandler, ConnectionLimits
from kadath.realtime.hub import Hub
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import CLOSE_TOO_SLOW
from kadath.realtime.session import BATCH_LIMIT, QUEUE_LIMIT, Session
from kadath.realtime.transport import TransportClosed
from kadath.services.chat import ChatService
from kadath.services.events import LocalEventBus
from kadath.services.presence import Presence

ACCOUNT = Account(uuid.uuid4(), "someone", "x")


class Recorder:
    """A transport that keeps each batch it is handed, and writes every frame to a log
    shared with other transports (so the order across connections can be read)."""

    def __init__(self, name: str = "", log: list[tuple[str, dict[str, Any]]] | None = None):
        self.remote = "127.0.0.1:1"
        self.name = name
        self.log = log if log is not None else []
        self.batches: list[list[dict[str, Any]]] = []
        self.closed: tuple[int, str] | None = None
        self.aborted = False
        self.batched = False

    async def receive_text(self) -> str:
        raise TransportClosed

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        frames = [json.loads(frame.text(seq)) for seq, frame in batch]
        self.batches.append(frames)
        self.log.extend((self.name, f) for f in frames)

    def use_batches(self) -> None:
        self.batched = True

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        self.aborted = True

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [f for batch in self.batches for f in batch]


def test_a_shared_frame_is_encoded_once_and_numbered_per_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    real_encode = outgoing.encode

    def counting(*args: Any, **kwargs: Any) -> str:
        calls.append(args)
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(outgoing, "encode", counting)
    frame = Outgoing({"type": "message", "text": "hi"})
    texts = [frame.text(seq) for seq in range(1, 101)]
    assert len(calls) == 1
    assert json.loads(texts[0]) == {"seq": 1, "type": "message", "text": "hi"}
    assert json.loads(texts[99])["seq"] == 100
    with pytest.raises(ValueError, match="type"):
        Outgoing({})


def test_a_rendering_is_made_once_per_key() -> None:
    frame = Outgoing({"type": "message", "text": "hi"})
    made: list[str] = []

    def make(key: str) -> Any:
        def render(f: dict[str, Any]) -> str:
            made.append(key)
            return f"{key}:{f['text']}"

        return render

    for _ in range(3):
        assert frame.rendering("a", make("a")) == "a:hi"
        assert frame.rendering("b", make("b")) == "b:hi"
    assert made == ["a", "b"]


async def test_a_room_fan_out_encodes_the_frame_once_for_every_listener(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    real_encode = outgoing.encode
    monkeypatch.setattr(outgoing, "encode", lambda *a, **k: calls.append(a) or real_encode(*a, **k))
    presence, hub = Presence(), Hub(Presence(), grace_seconds=0)
    hub = Hub(presence, grace_seconds=0)
    transports = []
    for n in range(50):
        player = player_named(f"Listener{chr(97 + n % 26)}{chr(97 + n // 26)}")
        presence.enter(player)
        transport = Recorder()
        session = Session(transport, ACCOUNT, player.id)
        hub.attach(session)
        session.start()
        transports.append(transport)
    hub.to_room(player.room_id, {"type": "message", "text": "hear ye"})
    await asyncio.sleep(0.01)
    assert [t.sent[0]["text"] for t in transports] == ["hear ye"] * 50
    assert len(calls) == 1
    await hub.shutdown()


async def test_frames_queued_in_one_turn_go_to_the_transport_as_one_batch() -> None:
    transport = Recorder()
    session = Session(transport, ACCOUNT, uuid.uuid4())
    session.start()
    for n in range(10):
        session.send({"type": "message", "text": str(n)})
    await asyncio.sleep(0.01)
    for n in range(10, 13):
        session.send({"type": "message", "text": str(n)})
    session.close(1000, "bye")
    await asyncio.wait_for(session.closed.wait(), 2)
    assert [len(b) for b in transport.batches] == [10, 3]
    assert [f["seq"] for f in transport.sent] == list(range(1, 14))
    assert [f["text"] for f in transport.sent] == [str(n) for n in range(13)]
    assert transport.closed == (1000, "bye")


async def test_a_batch_is_bounded_and_seq_has_no_gaps_across_batches() -> None:
    transport = Recorder()
    session = Session(transport, ACCOUNT, uuid.uuid4())
    count = 2 * BATCH_LIMIT + 7
    for n in range(count):
        session.send({"type": "message", "text": str(n)})
    assert session.backlog == count
    session.start()
    session.close(1000, "")
    await asyncio.wait_for(session.closed.wait(), 2)
    assert [len(b) for b in transport.batches] == [BATCH_LIMIT, BATCH_LIMIT, 7]
    assert [f["seq"] for f in transport.sent] == list(range(1, count + 1))


async def test_a_full_queue_is_dropped_and_closed_as_too_slow() -> None:
    transport = Recorder()
    session = Session(transport, ACCOUNT, uuid.uuid4())
    for n in range(QUEUE_LIMIT):
        session.send({"type": "message", "text": str(n)})
    assert session.backlog == QUEUE_LIMIT
    session.send({"type": "message", "text": "one too many"})
    session.send({"type": "message", "text": "after the close"})
    session.start()
    await asyncio.wait_for(session.closed.wait(), 2)
    assert transport.sent == []  # the client could not keep up: its backlog is dropped
    assert transport.closed is not None and transport.closed[0] == CLOSE_TOO_SLOW
    assert session.seq == QUEUE_LIMIT


async def test_the_same_frame_keeps_each_connections_own_seq() -> None:
    presence = Presence()
    hub = Hub(presence, grace_seconds=0)
    alice, bob = player_named("Alice"), player_named("Bob")
    transports = {}
    for player in (alice, bob):
        presence.enter(player)
        transports[player.name] = Recorder()
        session = Session(transports[player.name], ACCOUNT, player.id)
        hub.attach(session)
        session.start()
    hub.to_player(alice.id, {"type": "pong"})
    hub.to_room(alice.room_id, {"type": "message", "text": "both"})
    await asyncio.sleep(0.01)
    assert [(f["seq"], f["type"]) for f in transports["Alice"].sent] == [
        (1, "pong"),
        (2, "message"),
    ]
    assert [(f["seq"], f["type"]) for f in transports["Bob"].sent] == [(1, "message")]
    await hub.shutdown()


class Speaker(Recorder):
    """The issuer: says hello, then types one command, then waits for the test to end."""

    def __init__(self, name: str, log: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__(name, log)
        hello = {"type": "hello", "token": "t", "player": name}
        self.script = [json.dumps(hello)]
        self.script.append(json.dumps({"type": "command", "id": "c1", "text": "hello all"}))
        self.done = asyncio.Event()

    async def receive_text(self) -> str:
        if self.script:
            await asyncio.sleep(0.01)  # as from a network: every writer is idle by then
            return self.script.pop(0)
        await self.done.wait()
        raise TransportClosed


async def test_a_say_reply_is_written_before_the_room_hears_it() -> None:
    """Counted in writes, not time: with 200 listeners, the speaker's reply is the first
    frame written after the command, not the 201st."""
    presence = Presence()
    hub = Hub(presence, grace_seconds=0)
    log: list[tuple[str, dict[str, Any]]] = []
    speaker = player_named("Speaker")
    presence.enter(speaker)
    listeners = []
    for n in range(200):
        listener = player_named(f"Listener{chr(97 + n % 26)}{chr(97 + n // 26)}")
        presence.enter(listener)
        session = Session(Recorder(listener.name, log), ACCOUNT, listener.id)
        hub.attach(session)
        session.start()
        listeners.append(session)
    chat = ChatService(presence, hub, LocalEventBus())

    class Dispatcher:
        game = SimpleNamespace(
            presence=presence,
            rooms=SimpleNamespace(describe=describe),
            professions={},
        )

        async def dispatch(self, player: Player, text: str) -> Reply:
            return Reply(True, await chat.say(player, text))

    class Entry:
        async def enter(self, player_id: uuid.UUID) -> Player:
            return speaker

        async def leave(self, player_id: uuid.UUID) -> None:
            pass

    async def authorize(token: str, name: str) -> tuple[Account, Player]:
        return ACCOUNT, speaker

    handler = ConnectionHandler(
        hub,
        Entry(),  # type: ignore[arg-type]
        Dispatcher(),  # type: ignore[arg-type]
        authorize,
        ConnectionLimits(),
    )
    transport = Speaker("Speaker", log)
    serving = asyncio.create_task(handler.serve(transport))
    for _ in range(100):
        await asyncio.sleep(0.005)
        if sum(1 for _, f in log if f.get("type") == "message") == 200:
            break
    transport.done.set()
    await serving
    await hub.shutdown()

    after_command = [(name, f) for name, f in log if f.get("type") in ("reply", "message")]
    assert len(after_command) == 201
    first_name, first = after_command[0]
    assert (first_name, first["type"], first["re"]) == ("Speaker", "reply", "c1")
    heard = [f["text"] for name, f in after_command[1:]]
    assert heard == ['Speaker says, "hello all"'] * 200
    assert transport.batched is False  # this hello did not ask for batches


async def describe(player: Player) -> tuple[dict[str, Any], str]:
    return {"id": player.room_id, "name": "A room", "exits": []}, "A room."
