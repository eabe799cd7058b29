"""Kadath's uvicorn WebSocket protocol reads whole data frames itself and writes the game's
text messages at once (``DIRECT_EXTENSION``); control frames, fragments and anything it does
not take go through websockets as before. Compressed frames (permessage-deflate, no context
takeover either way) are read and written directly too. Driven over a real socket, byte by
byte."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.frames import Frame, Opcode
from websockets.headers import build_extension, parse_extension

from kadath.web.websocket_protocol import (
    DEFLATE,
    DIRECT_EXTENSION,
    WINDOW_BITS,
    AbortableWebSocketProtocol,
    SharedDeflate,
    deflate_message,
    frame_header,
    inflate_message,
)


def test_the_header_is_the_one_websockets_makes() -> None:
    for length in (0, 1, 125, 126, 1000, 65535, 65536, 70000):
        payload = b"x" * length
        made = Frame(Opcode.TEXT, payload).serialize(mask=False)
        assert frame_header(len(payload)) + payload == made
        assert frame_header(len(payload), rsv1=True)[0] == made[0] | 0x40
        assert frame_header(len(payload), rsv1=True)[1:] + payload == made[1:]


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


LIVE: list[uvicorn.Server] = []  # the servers running, the last started last


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
    LIVE.append(srv)
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
        LIVE.remove(srv)
        srv.should_exit = True
        await task


def direct_protocols() -> list[AbortableWebSocketProtocol]:
    """The open connections of the server last started."""
    return [
        conn
        for conn in LIVE[-1].server_state.connections
        if isinstance(conn, AbortableWebSocketProtocol)
    ]


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    return Frame(Opcode(opcode), payload, fin=fin).serialize(mask=True)


class Peer:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handshake: bytes
    ) -> None:
        self.reader, self.writer, self.handshake = reader, writer, handshake

    async def frame(self) -> tuple[int, bytes]:
        opcode, _, payload = await self.message()
        return opcode, payload

    async def message(self) -> tuple[int, bool, bytes]:
        """A frame's opcode, RSV1 (compressed) and payload as sent."""
        head = await self.reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return head[0] & 0x0F, bool(head[0] & 0x40), await self.reader.readexactly(length)

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
    return Peer(reader, writer, response)


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


# -- permessage-deflate on the direct path ----------------------------------------------------
def deflated(payload: bytes, window_bits: int = 15) -> bytes:
    """``payload`` as a client compresses a message on its own (the flush's tail stripped)."""
    compressor = zlib.compressobj(wbits=-window_bits)
    return (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def masked(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """A client frame with any bits (websockets' ``Frame.serialize`` refuses RSV1)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    length = len(payload)
    if length < 126:
        head = bytes((first, 0x80 | length))
    elif length < 65536:
        head = bytes((first, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + length.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def compressed_frame(opcode: int, payload: bytes) -> bytes:
    return masked(opcode, deflated(payload), rsv1=True)


async def test_compressed_frames_are_read_directly_and_long_replies_compressed() -> None:
    async with server() as port:
        peer = await connect(port, deflate=True)
        assert b"server_no_context_takeover" in peer.handshake
        assert b"client_no_context_takeover" in peer.handshake
        long = "the shoggoth stirs " * 40
        many = b"".join(compressed_frame(Opcode.TEXT, f"m{n}".encode()) for n in range(10))
        peer.writer.write(many + client_frame(Opcode.TEXT, b"plain"))
        for n in range(10):
            assert await peer.message() == (Opcode.TEXT, False, f"echo:m{n}".encode())
        assert await peer.message() == (Opcode.TEXT, False, b"echo:plain")
        for _ in range(3):  # each message compressed on its own, by the one shared compressor
            await peer.send_bytewise(compressed_frame(Opcode.TEXT, long.encode()))
            opcode, rsv1, payload = await peer.message()
            assert (opcode, rsv1) == (Opcode.TEXT, True)
            assert len(payload) < len(long) // 4
            assert zlib.decompressobj(wbits=-12).decompress(payload + b"\x00\x00\xff\xff") == (
                f"echo:{long}".encode()
            )
        peer.writer.write(compressed_frame(Opcode.BINARY, b"\x00" * 500))
        assert await peer.message() == (Opcode.TEXT, False, b"bytes:500")
        assert direct_protocols() and all(p._direct for p in direct_protocols())
        # a fragmented compressed message goes to websockets, and so does what comes after
        first, rest = deflated(b"fragmented")[:3], deflated(b"fragmented")[3:]
        peer.writer.write(
            masked(Opcode.TEXT, first, fin=False, rsv1=True)
            + masked(Opcode.CONT, rest)
            + compressed_frame(Opcode.TEXT, b"after")
        )
        assert await peer.message() == (Opcode.TEXT, False, b"echo:fragmented")
        assert await peer.message() == (Opcode.TEXT, False, b"echo:after")
        peer.writer.close()


async def test_compressed_frames_that_do_not_inflate_or_inflate_too_far_are_refused() -> None:
    async with server(ws_max_size=1000) as port:
        peer = await connect(port, deflate=True)
        bad = masked(Opcode.TEXT, b"\xff\xff\xff\xff", rsv1=True)
        peer.writer.write(bad)
        opcode, payload = await peer.frame()
        assert (opcode, payload[:2]) == (Opcode.CLOSE, (1002).to_bytes(2, "big"))
        peer.writer.close()

        peer = await connect(port, deflate=True)
        peer.writer.write(compressed_frame(Opcode.TEXT, b"x" * 1001))  # ~10 bytes on the wire
        opcode, payload = await peer.frame()
        assert (opcode, payload[:2]) == (Opcode.CLOSE, (1009).to_bytes(2, "big"))
        peer.writer.close()

        peer = await connect(port, deflate=True)  # RSV1 on a control frame
        peer.writer.write(masked(Opcode.PING, b"", rsv1=True))
        opcode, payload = await peer.frame()
        assert (opcode, payload[:2]) == (Opcode.CLOSE, (1002).to_bytes(2, "big"))
        peer.writer.close()


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        # Chromium's offer
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=12; client_max_window_bits=12",
        ),
        # Firefox's offer: no client_max_window_bits, so none in the answer
        (
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=12",
        ),
        # a client that wants a smaller window from the server gets it
        (
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=12",
        ),
    ],
)
def test_the_answer_asks_no_context_takeover_both_ways(offer: str, answer: str) -> None:
    (params,) = [p for name, p in parse_extension(offer) if name == "permessage-deflate"]
    got, extension = DEFLATE.process_request_params(params, [])
    assert build_extension([("permessage-deflate", got)]) == answer
    assert isinstance(extension, SharedDeflate)
    assert extension.local_no_context_takeover and extension.remote_no_context_takeover
    assert not hasattr(extension, "encoder") and not hasattr(extension, "decoder")


def test_a_smaller_window_asked_for_is_the_one_compressed_with() -> None:
    text = ("abcdefghij" * 60 + "0123456789" * 60) * 3  # repeats 1.2 KB apart
    (params,) = [p for _, p in parse_extension("permessage-deflate; server_max_window_bits=9")]
    _, extension = DEFLATE.process_request_params(params, [])
    sent = extension.encode(Frame(Opcode.TEXT, text.encode()))
    assert sent.rsv1
    inflate = zlib.decompressobj(wbits=-9)  # fails on a reference beyond 512 bytes
    assert inflate.decompress(bytes(sent.data) + b"\x00\x00\xff\xff") == text.encode()
    short = extension.encode(Frame(Opcode.TEXT, b"short"))
    assert (short.rsv1, short.data) == (False, b"short")


def test_messages_compressed_in_turn_each_stand_alone() -> None:
    messages = [(f"message {n} " * (n + 20)).encode() for n in range(50)]
    for message in messages:  # the same shared compressor, one message after another
        payload = deflate_message(message)
        fresh = zlib.decompressobj(wbits=-WINDOW_BITS)
        assert fresh.decompress(payload + b"\x00\x00\xff\xff") == message
        assert inflate_message(payload, WINDOW_BITS, None) == message
    assert inflate_message(deflate_message(b"y" * 2000), WINDOW_BITS, 1999) is None
    assert inflate_message(b"\xff\xff", WINDOW_BITS, None) is None
