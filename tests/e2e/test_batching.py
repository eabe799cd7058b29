"""Protocol 3 on a real server: a client that asks for batches in its hello gets the frames of
one batch as one WebSocket message (a JSON array, each frame with its own seq); a client that
does not ask keeps one frame per message."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kadath_e2e import WAIT, Connect, NewCharacter, RunningServer
from websockets.asyncio.client import ClientConnection, connect


async def _open(server: RunningServer) -> ClientConnection:
    return await connect(server.ws_url, proxy=None, open_timeout=WAIT, close_timeout=2)


async def _messages_until_reply(ws: ClientConnection, reply_to: str) -> list[Any]:
    """Every message (parsed, as sent: an object or an array) up to the reply to
    ``reply_to``."""
    messages: list[Any] = []
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads(await ws.recv())
            messages.append(message)
            frames = message if isinstance(message, list) else [message]
            if any(f.get("type") == "reply" and f.get("re") == reply_to for f in frames):
                return messages


async def test_a_client_that_asks_for_batches_gets_arrays_with_gapless_seq(
    server: RunningServer, new_character: NewCharacter, connect: Connect
) -> None:
    character = await new_character()
    listener = await connect()  # someone in the room whose frames are not ours
    ws = await _open(server)
    try:
        hello = {"type": "hello", "token": character.token, "player": character.name}
        await ws.send(json.dumps({**hello, "batch": True}))
        first = json.loads(await ws.recv())
        # welcome and room are queued in the same turn: they leave as one message
        assert isinstance(first, list)
        assert [(f["seq"], f["type"]) for f in first[:2]] == [(1, "welcome"), (2, "room")]
        for n in range(1, 9):  # pipelined: their replies and the room's speech come batched
            command = {"type": "command", "id": f"c{n}", "text": f"say number {n}"}
            await ws.send(json.dumps(command))
        await listener.send_command("say back at you")
        messages = await _messages_until_reply(ws, "c8")
    finally:
        await ws.close()
    assert all(isinstance(m, list) and m for m in messages)
    frames = first + [f for m in messages for f in m]
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    replies = [f["re"] for f in frames if f["type"] == "reply"]
    assert replies == [f"c{n}" for n in range(1, 9)]
    await listener.wait_for(lambda f: f.get("text") == f'{character.name} says, "number 8"')


async def test_a_client_that_does_not_ask_gets_one_frame_per_message(
    server: RunningServer, new_character: NewCharacter
) -> None:
    character = await new_character()
    ws = await _open(server)
    try:
        await ws.send(
            json.dumps({"type": "hello", "token": character.token, "player": character.name})
        )
        for n in range(1, 6):
            await ws.send(json.dumps({"type": "command", "id": f"c{n}", "text": "look"}))
        messages = await _messages_until_reply(ws, "c5")
    finally:
        await ws.close()
    assert all(isinstance(m, dict) for m in messages)
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert [m["type"] for m in messages[:2]] == ["welcome", "room"]
    assert [m["re"] for m in messages if m["type"] == "reply"] == [f"c{n}" for n in range(1, 6)]
