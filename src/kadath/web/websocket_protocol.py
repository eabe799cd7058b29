"""uvicorn's WebSocket protocol, lending the app a way to abort the TCP connection, and
compressing with less memory a connection.

ASGI has no abort: a close frame queued behind a full socket waits forever, and so does
closing a transport that must flush first. The app finds ``transport.abort`` in the scope's
``extensions`` (``scope["extensions"][ABORT_EXTENSION]["abort"]``); it drops the connection
and whatever is left unsent.

permessage-deflate (what browsers ask for) keeps zlib state for the whole connection. uvicorn
offers it with 4 KiB windows both ways and ``memLevel`` 5: ~38 KiB for the compressor and
~9 KiB for the decompressor, per connection, idle or not. ``DEFLATE`` keeps the 4 KiB window
for what the server sends (most of the traffic, and the compression ratio; measured on the
game's frames, ``memLevel`` 3 compresses them as well as 5, at the same CPU) in ~26 KiB, and
asks the client to compress each of its messages on its own (``client_no_context_takeover``,
which every client must accept): its commands are a few dozen bytes, gain little from a
shared history, and the server then holds no decompressor between them (websockets makes one
per message and drops it). The handshake's request is not kept either, and the messages
received wait in an ``Inbox`` rather than an ``asyncio.Queue``. Figures: docs/performance.md,
issue 12's second pass.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request

ABORT_EXTENSION = "kadath.transport.abort"
WINDOW_BITS = 12
MEM_LEVEL = 3
DEFLATE = ServerPerMessageDeflateFactory(
    server_max_window_bits=WINDOW_BITS,
    client_max_window_bits=WINDOW_BITS,
    client_no_context_takeover=True,
    compress_settings={"memLevel": MEM_LEVEL},
)


class Inbox:
    """The part of ``asyncio.Queue`` uvicorn's protocol uses for the messages it has received
    (``put_nowait``, ``get``, ``empty``), FIFO, for any number of readers, in ~0.3 KiB: an
    ``asyncio.Queue`` holds four deques and an ``Event`` from birth, ~3.3 KiB a connection, to
    queue what is rarely more than one message (uvicorn stops reading the socket until the
    app has taken the last one)."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiters: list[asyncio.Future[None]] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_next()

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif self._items and not waiter.cancelled():
                    self._wake_next()  # woken, then cancelled: pass the turn on
                raise
        return self._items.pop(0)

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return


class AbortableWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        if self.conn.available_extensions:  # uvicorn's ws_per_message_deflate (on by default)
            self.conn.available_extensions = [DEFLATE]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # uvicorn keeps the handshake request, never to read it again (its headers are in the
        # scope): ~2 KiB a connection.
        del self.request

    async def run_asgi(self) -> None:
        extensions = self.scope.setdefault("extensions", {})
        extensions[ABORT_EXTENSION] = {"abort": self.transport.abort}
        await super().run_asgi()
