"""/ws: the game protocol over WebSocket (see docs/protocol.md)."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from kadath.realtime.transport import TransportClosed
from kadath.web.websocket_protocol import ABORT_EXTENSION

router = APIRouter()


class WebSocketTransport:
    """Adapts a Starlette WebSocket to the real-time layer's Transport."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        client = websocket.client
        self.remote = f"{client.host}:{client.port}" if client else "unknown"

    async def receive_text(self) -> str:
        while True:
            try:
                message = await self._ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                raise TransportClosed from None
            if message["type"] == "websocket.disconnect":
                raise TransportClosed
            text = message.get("text")
            if text is not None:
                return str(text)
            data: bytes | None = message.get("bytes")
            if data is not None:
                return data.decode("utf-8", errors="replace")

    async def send_text(self, text: str) -> None:
        try:
            await self._ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            raise TransportClosed from None

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self._ws.close(code, reason)

    def abort(self) -> None:
        """Drop the TCP connection, if the server offers a way (see websocket_protocol)."""
        extension = (self._ws.scope.get("extensions") or {}).get(ABORT_EXTENSION)
        if extension is not None:
            extension["abort"]()


@router.websocket("/ws")
async def game_socket(websocket: WebSocket) -> None:
    runtime = websocket.app.state.runtime
    await websocket.accept()
    await runtime.connections.serve(WebSocketTransport(websocket))
