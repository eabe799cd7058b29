"""permessage-deflate, as browsers ask for it: a compressing client plays, with the parameters
the server chose (a 4 KiB window each way, each message compressed on its own both ways, so
the server holds no compressor or decompressor for the connection), and the server keeps no
zlib state nor the handshake's request and response once the game is under way; the long
messages come compressed, the short ones plain, every one of them whole.
"""

from __future__ import annotations

from typing import Any

import pytest
from kadath_e2e import Connect, GameClient, RunningServer
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame
from websockets.http11 import Request

from kadath.web.websocket_protocol import (
    COMPRESS_MIN,
    AbortableWebSocketProtocol,
    SharedDeflate,
)

ANSWER = (
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
    "server_max_window_bits=12; client_max_window_bits=12"
)


def parser_holds_the_request(protocol: AbortableWebSocketProtocol) -> bool:
    """Whether websockets' parser (a generator) still has the handshake's request in its
    frame."""
    frame = protocol.conn.parser.gi_frame  # type: ignore[attr-defined]
    return frame is not None and any(isinstance(v, Request) for v in frame.f_locals.values())


def server_protocols(server: RunningServer) -> list[AbortableWebSocketProtocol]:
    running: Any = server._server  # the uvicorn.Server: its state lists open connections
    return [
        conn
        for conn in running.server_state.connections
        if isinstance(conn, AbortableWebSocketProtocol)
    ]


async def test_a_compressing_client_plays_with_the_parameters_the_server_chose(
    server: RunningServer, connect: Connect
) -> None:
    # websockets' client offers "permessage-deflate; client_max_window_bits", as browsers do.
    client = await connect()
    reply = await client.command("look")
    assert reply["ok"] is True
    await client.command("say compressed, both ways")

    answer = client.ws.response.headers["Sec-WebSocket-Extensions"] if client.ws.response else ""
    assert answer == ANSWER
    (negotiated,) = client.ws.protocol.extensions
    assert isinstance(negotiated, PerMessageDeflate)
    assert negotiated.local_no_context_takeover  # the client's own messages, each on its own
    assert negotiated.remote_no_context_takeover  # and the server's

    (protocol,) = server_protocols(server)
    (deflate,) = protocol.conn.extensions
    assert isinstance(deflate, SharedDeflate)
    assert deflate.local_max_window_bits == 12
    assert deflate.remote_no_context_takeover
    assert deflate.local_no_context_takeover
    assert not hasattr(deflate, "decoder")  # no zlib state of the connection's own
    assert not hasattr(deflate, "encoder")
    assert not hasattr(protocol, "request")
    assert not hasattr(protocol, "response")  # the handshake's, once sent
    assert not parser_holds_the_request(protocol)
    assert protocol._direct  # its frames, compressed or not, read and written directly


async def test_many_messages_come_whole_long_ones_compressed_short_ones_plain(
    server: RunningServer, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await connect()
    (negotiated,) = client.ws.protocol.extensions
    assert isinstance(negotiated, PerMessageDeflate)
    seen: list[tuple[bool, int]] = []  # (RSV1, payload size) of each data frame received
    decode = negotiated.decode

    def counting(frame: Frame, *, max_size: int | None = None) -> Frame:
        seen.append((frame.rsv1, len(frame.data)))
        return decode(frame, max_size=max_size)

    monkeypatch.setattr(negotiated, "decode", counting)
    other = await connect()
    for n in range(40):
        words = " ".join(f"w{n}x{i}" for i in range(n + n // 2))  # up to ~400 characters
        reply = await client.command(f"say {words}" if n % 2 else "look")
        assert reply["ok"] is True, reply.get("text")
        if n % 2:
            heard = await other.wait_message("say")
            assert heard["text"] == f'{client.name} says, "{words}"'
    assert any(rsv1 for rsv1, _ in seen)
    assert any(not rsv1 for rsv1, _ in seen)
    assert all(size < COMPRESS_MIN for rsv1, size in seen if not rsv1)
    for protocol in server_protocols(server):
        assert protocol._direct


async def test_a_client_without_compression_plays_uncompressed(server: RunningServer) -> None:
    ws = await connect(server.ws_url, proxy=None, compression=None, open_timeout=5)
    client = GameClient(ws)
    try:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        (protocol,) = server_protocols(server)
        assert protocol.conn.extensions == []
        assert not hasattr(protocol, "response")
        assert not parser_holds_the_request(protocol)
    finally:
        await client.close()
