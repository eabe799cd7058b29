"""Kadath's uvicorn WebSocket protocol reads whole data frames itself and writes the game's
text messages at once (``DIRECT_EXTENSION``); control frames, fragments and anything it does
not take go through websockets as before. Driven over a real socket, byte by byte."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.frames import Frame, Opcode

from kadath.web.websocket_protocol import (
    DIRECT_EXTENSION,
    AbortableWebSocketProtocol,
    frame_header,
)


def test_the_header_is_the_one_websockets_makes() -> None:
    for length in (0, 1, 125, 126, 1000, 65535, 65536, 70000):
        payload = b"x" * length
        made = Frame(Opcode.TEXT, payload).serialize(mask=False)
        assert frame_header(len(payload)) + payload == made


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes each text message as ``echo:<text>`` (through the direct path when there is
    one), a binary one as ``bytes:<length>``."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    direct = scope["extensions"].get(DIRECT_EXTENSION)
    receive_now = direct["receive"] if direct else receive
    while True:
        message = await receive_now()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        reply = f"echo:{text}" if text is not None else f"bytes:{len(message['bytes'])}"
        if direct is None or not direct["send_text"](reply.encode()):
            try:
                await send({"type": "websocket.send", "text": reply})
            except (RuntimeError, OSError):  # closed meanwhile (game_socket: TransportClosed)
                return


@contextlib.asynccontextmanager
async def server(**options: Any) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        echo,
        # neither uvicorn's logging config nor a level: either would change its loggers for
        # the rest of the test run (tests/unit/test_logs.py reads them through the pipeline)
        log_config=None,
        lifespan="off",
        ws=AbortableWebSocketProtocol,
        **options,
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not srv.started:
            if task.done():
                await task
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        srv.should_exit = True
        await task


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    return Frame(Opcode(opcode), payload, fin=fin).serialize(mask=True)


class Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def frame(self) -> tuple[int, bytes]:
        head = await self.reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return head[0] & 0x0F, await self.reader.readexactly(length)

    async def send_bytewise(self, data: bytes) -> None:
        for i in range(len(data)):
            self.writer.write(data[i : i + 1])
            await self.writer.drain()
            await asyncio.sleep(0)


async def connect(port: int, *, deflate: bool = False) -> Peer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    extensions = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n".encode()
    )
    response = await reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101")
    assert (b"permessage-deflate" in response) == deflate
    return Peer(reader, writer)


async def test_frames_come_through_whole_split_and_several_in_one_write() -> None:
    async with server() as port:
        peer = await connect(port)
        many = b"".join(client_frame(Opcode.TEXT, f"m{n}".encode()) for n in range(20))
        peer.writer.write(many)
        assert [await peer.frame() for _ in range(20)] == [
            (Opcode.TEXT, f"echo:m{n}".encode()) for n in range(20)
        ]
        long = "é" * 300  # a 126-form length
        await peer.send_bytewise(client_frame(Opcode.TEXT, long.encode()))
        assert await peer.frame() == (Opcode.TEXT, f"echo:{long}".encode())
        await peer.send_bytewise(client_frame(Opcode.BINARY, b"\x00\x01\x02"))
        assert await peer.frame() == (Opcode.TEXT, b"bytes:3")
        # a ping between two messages, all in one write: websockets answers it (at once, as
        # uvicorn does), and the messages after it still come through
        for _ in range(2):
            peer.writer.write(
                client_frame(Opcode.TEXT, b"a")
                + client_frame(Opcode.PING, b"hi")
                + client_frame(Opcode.TEXT, b"b")
            )
            got = [await peer.frame() for _ in range(3)]
            assert got[0] == (Opcode.PONG, b"hi")
            assert got[1:] == [(Opcode.TEXT, b"echo:a"), (Opcode.TEXT, b"echo:b")]
        await peer.send_bytewise(client_frame(Opcode.PING, b"p") + client_frame(Opcode.TEXT, b"c"))
        assert [await peer.frame() for _ in range(2)] == [
            (Opcode.PONG, b"p"),
            (Opcode.TEXT, b"echo:c"),
        ]
        # a fragmented message goes to websockets, and so does everything after it
        peer.writer.write(
            client_frame(Opcode.TEXT, b"fr", fin=False)
            + client_frame(Opcode.CONT, b"ag")
            + client_frame(Opcode.TEXT, b"after")
        )
        assert [await peer.frame() for _ in range(2)] == [
            (Opcode.TEXT, b"echo:frag"),
            (Opcode.TEXT, b"echo:after"),
        ]
        peer.writer.close()


async def test_invalid_utf8_and_oversized_frames_are_refused_as_websockets_does() -> None:
    async with server(ws_max_size=1000) as port:
        peer = await connect(port)
        peer.writer.write(client_frame(Opcode.TEXT, b"ok"))
        assert await peer.frame() == (Opcode.TEXT, b"echo:ok")
        peer.writer.write(client_frame(Opcode.TEXT, b"\xff"))
        opcode, payload = await peer.frame()
        assert (opcode, payload[:2]) == (Opcode.CLOSE, (1007).to_bytes(2, "big"))
        peer.writer.close()

        peer = await connect(port)
        peer.writer.write(client_frame(Opcode.TEXT, b"x" * 1001))
        opcode, payload = await peer.frame()
        assert (opcode, payload[:2]) == (Opcode.CLOSE, (1009).to_bytes(2, "big"))
        peer.writer.close()


async def test_an_unmasked_frame_closes_the_connection() -> None:
    async with server() as port:
        peer = await connect(port)
        peer.writer.write(Frame(Opcode.TEXT, b"bare").serialize(mask=False))
        opcode, payload = await peer.frame()
        assert (opcode, payload[:2]) == (Opcode.CLOSE, (1002).to_bytes(2, "big"))
        peer.writer.close()


@pytest.mark.parametrize("deflate", [False, True])
async def test_the_close_handshake_still_works(deflate: bool) -> None:
    async with server() as port:
        peer = await connect(port, deflate=deflate)
        peer.writer.write(client_frame(Opcode.TEXT, b"last"))
        opcode, payload = await peer.frame()
        if deflate:  # compressed by websockets: the RSV1 bit is set, not a plain text frame
            assert opcode == Opcode.TEXT
        else:
            assert (opcode, payload) == (Opcode.TEXT, b"echo:last")
        peer.writer.write(client_frame(Opcode.CLOSE, (1000).to_bytes(2, "big")))
        assert (await peer.frame())[0] == Opcode.CLOSE
        peer.writer.close()
