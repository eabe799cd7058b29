"""uvicorn's WebSocket protocol, lending the app a way to abort the TCP connection.

ASGI has no abort: a close frame queued behind a full socket waits forever, and so does
closing a transport that must flush first. The app finds ``transport.abort`` in the scope's
``extensions`` (``scope["extensions"][ABORT_EXTENSION]["abort"]``); it drops the connection
and whatever is left unsent."""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

ABORT_EXTENSION = "kadath.transport.abort"


class AbortableWebSocketProtocol(WebSocketsSansIOProtocol):
    async def run_asgi(self) -> None:
        extensions = self.scope.setdefault("extensions", {})
        extensions[ABORT_EXTENSION] = {"abort": self.transport.abort}
        await super().run_asgi()
