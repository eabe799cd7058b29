"""/ws: the game protocol over WebSocket (see docs/protocol.md).

The server hands /ws straight to ``game_socket`` (``kadath.web.app.KadathApp``), not through
FastAPI's router and middleware: it is no route of the router. Under Kadath's uvicorn protocol
(``websocket_protocol.DIRECT_EXTENSION``) messages are taken from it and written to it
directly, not through Starlette's ``WebSocket`` and ASGI's ``send``; elsewhere (a test
client) through them."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from kadath.realtime.outgoing import Delivery
from kadath.realtime.transport import TransportClosed
from kadath.web.runtime import Runtime
from kadath.web.websocket_protocol import ABORT_EXTENSION, DIRECT_EXTENSION

PATH = "/ws"


class WebSocketTransport:
    """Adapts a Starlette WebSocket to the real-time layer's Transport."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        client = websocket.client
        self.remote = f"{client.host}:{client.port}" if client else "unknown"
        self._batches = False
        direct = (websocket.scope.get("extensions") or {}).get(DIRECT_EXTENSION)
        self._receive: Callable[[], Awaitable[Any]] = (
            websocket.receive if direct is None else direct["receive"]
        )
        self._send_now: Callable[[bytes], bool] | None = (
            None if direct is None else direct["send_text"]
        )

    async def receive_text(self) -> str:
        while True:
            try:
                message = await self._receive()
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

    def use_batches(self) -> None:
        self._batches = True

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        """One message per frame; or, for a client that asked for batches in its hello, the
        whole batch as one message: a JSON array of the frames in ``seq`` order."""
        await self.send_texts([frame.text(seq) for seq, frame in batch])

    async def send_texts(self, texts: Sequence[str]) -> None:
        """Frames' texts (``TextTransport``), written as ``send_frames`` writes frames."""
        try:
            if self._batches:
                await self._send(f"[{','.join(texts)}]")
            else:
                for text in texts:
                    await self._send(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            raise TransportClosed from None

    def send_frames_now(self, batch: Sequence[Delivery]) -> bool:
        """A batch as one message (a client that asked for batches), or a lone frame, written
        at once when the socket takes it (see ``DirectTransport``)."""
        send_now = self._send_now
        if send_now is None:
            return False
        if self._batches:
            text = ",".join([frame.text(seq) for seq, frame in batch])
            data = f"[{text}]".encode()
        elif len(batch) == 1:
            seq, frame = batch[0]
            data = frame.text(seq).encode()
        else:
            return False  # several messages: all or none is the writer's to do
        try:
            return send_now(data)
        except (RuntimeError, OSError):
            return False  # the writer's send meets it again and ends the connection

    async def _send(self, text: str) -> None:
        send_now = self._send_now
        if send_now is None or not send_now(text.encode()):
            await self._ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state != WebSocketState.DISCONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self._ws.close(code, reason)

    def abort(self) -> None:
        """Drop the TCP connection, if the server offers a way (see websocket_protocol)."""
        extension = (self._ws.scope.get("extensions") or {}).get(ABORT_EXTENSION)
        if extension is not None:
            extension["abort"]()


async def game_socket(websocket: WebSocket, runtime: Runtime) -> None:
    await websocket.accept()
    await runtime.connections.serve(WebSocketTransport(websocket))
