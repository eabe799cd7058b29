"""permessage-deflate, as browsers ask for it: a compressing client plays, with the parameters
the server chose (a 4 KiB window each way, its compressor at memLevel 3, the client's messages
compressed each on their own so the server holds no decompressor between them), and the
server keeps neither that decompressor nor the handshake's request once the game is under way.
"""

from __future__ import annotations

from typing import Any

from kadath_e2e import Connect, GameClient, RunningServer
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import PerMessageDeflate

from kadath.web.websocket_protocol import AbortableWebSocketProtocol

ANSWER = (
    "permessage-deflate; client_no_context_takeover; "
    "server_max_window_bits=12; client_max_window_bits=12"
)


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

    (protocol,) = server_protocols(server)
    (deflate,) = protocol.conn.extensions
    assert isinstance(deflate, PerMessageDeflate)
    assert deflate.local_max_window_bits == 12
    assert deflate.compress_settings == {"memLevel": 3}
    assert deflate.remote_no_context_takeover
    assert not hasattr(deflate, "decoder")  # dropped after each message the client sent
    assert not hasattr(protocol, "request")


async def test_a_client_without_compression_plays_uncompressed(server: RunningServer) -> None:
    ws = await connect(server.ws_url, proxy=None, compression=None, open_timeout=5)
    client = GameClient(ws)
    try:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        (protocol,) = server_protocols(server)
        assert protocol.conn.extensions == []
    finally:
        await client.close()
