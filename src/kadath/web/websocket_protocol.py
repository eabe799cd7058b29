"""uvicorn's WebSocket protocol, lending the app a way to abort the TCP connection, and
compressing with less memory a connection.

ASGI has no abort: a close frame queued behind a full socket waits forever, and so does
closing a transport that must flush first. The app finds ``transport.abort`` in the scope's
``extensions`` (``scope["extensions"][ABORT_EXTENSION]["abort"]``); it drops the connection
and whatever is left unsent.

permessage-deflate (what browsers ask for) without zlib state per connection (issue 12's
fourth pass): ``DEFLATE`` answers every offer with ``server_no_context_takeover`` and
``client_no_context_takeover`` (RFC 7692 §7.1.1.1 and §7.1.1.2: a server may add both even
when the client did not offer them, and every client must accept them), so each message,
either way, is compressed on its own. Then nothing needs keeping between messages:
``SharedDeflate`` compresses with one compressor per process (per window size), whose
history a full flush clears after each message, and decompresses a client's message with a
decompressor made for it and dropped. A message shorter than ``COMPRESS_MIN`` bytes goes
out uncompressed (RSV1 clear: RFC 7692 lets each message choose): on its own it would gain
a few bytes at most, for the CPU of compressing it. The trade-off (bytes on the wire: no
shared history between messages) is measured in docs/performance.md. The handshake's
request and response are not kept either (uvicorn keeps both, never to read them again once
the response is sent), and the messages received wait in an ``Inbox`` rather than an
``asyncio.Queue``.

The game's own path (``DIRECT_EXTENSION``, issue 12's third pass): on a connection without
compression or with ``SharedDeflate``, the data frames a client sends whole (text or binary,
FIN, masked, at most ``max_message_size``, compressed or not) are read here without
websockets' generator parser, and the game's text messages are framed (and compressed) and
written at once (``send_text_now``) without ASGI's message dicts, Starlette's and uvicorn's
``send``. A control frame (ping, pong, close) is handed to
websockets whole, so its parser always starts at a frame's first byte; anything else
(fragments, RSV2/RSV3, a frame too big compressed or not, data that does not inflate,
invalid UTF-8), and every byte after it, goes
through websockets as before. Reading
stops only once ``INBOX_LIMIT`` messages wait for the app, not after each one (uvicorn
stops and restarts reading the socket for every message: two ``epoll_ctl`` calls).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CTRL_OPCODES, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State
from websockets.speedups import apply_mask
from websockets.typing import ExtensionParameter

ABORT_EXTENSION = "kadath.transport.abort"
# scope["extensions"][DIRECT_EXTENSION]: {"send_text": send_text_now, "receive": receive}
DIRECT_EXTENSION = "kadath.websocket.direct"
INBOX_LIMIT = 16  # messages waiting for the app before the socket is no longer read
OP_TEXT, OP_BINARY = Opcode.TEXT.value, Opcode.BINARY.value
_TAKEN = frozenset((OP_TEXT, OP_BINARY, Opcode.CLOSE.value, Opcode.PING.value, Opcode.PONG.value))
WINDOW_BITS = 12  # the server's and the client's windows (4 KiB)
MEM_LEVEL = 8  # zlib's default: one compressor per process, its size matters not
COMPRESS_MIN = 256  # shorter messages go out uncompressed
_SYNC_TAIL = b"\x00\x00\xff\xff"  # what a flush ends with, and RFC 7692 strips
_compressors: dict[int, Any] = {}  # window bits: the process's compressor (zlib's _Compress)


def deflate_message(data: bytes, window_bits: int = WINDOW_BITS) -> bytes:
    """``data`` compressed on its own, as a permessage-deflate payload (the flush's empty
    block stripped), by the process's compressor for ``window_bits``: a full flush ends the
    message, so nothing after it refers to it, and the next message starts afresh."""
    compressor = _compressors.get(window_bits)
    if compressor is None:
        compressor = _compressors[window_bits] = zlib.compressobj(
            wbits=-window_bits, memLevel=MEM_LEVEL
        )
    try:
        out = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
    except BaseException:
        del _compressors[window_bits]  # its state is unknown: the next message gets a new one
        raise
    return out[:-4]


def inflate_message(data: bytes, window_bits: int, max_size: int | None) -> bytes | None:
    """A client's compressed message (no context takeover: it stands alone), or None when it
    does not inflate or inflates to more than ``max_size`` bytes."""
    decompressor = zlib.decompressobj(wbits=-window_bits)
    try:
        out = decompressor.decompress(data + _SYNC_TAIL, max_size or 0)
    except zlib.error:
        return None
    if decompressor.unconsumed_tail:
        return None
    return out


class SharedDeflate(PerMessageDeflate):
    """permessage-deflate, no context takeover either way, with no zlib state of its own
    between messages: what websockets compresses (the messages that do not go through
    ``send_text_now``) goes through ``deflate_message`` too. A fragmented message is sent
    uncompressed (uvicorn sends none). Receiving is websockets' ``PerMessageDeflate``'s, which
    makes a decompressor for each compressed message and drops it."""

    def __init__(self, remote_max_window_bits: int, local_max_window_bits: int) -> None:
        super().__init__(True, True, remote_max_window_bits, local_max_window_bits)

    def encode(self, frame: Frame) -> Frame:
        if (
            frame.opcode in CTRL_OPCODES
            or frame.opcode is Opcode.CONT
            or not frame.fin
            or len(frame.data) < COMPRESS_MIN
        ):
            return frame
        data = deflate_message(bytes(frame.data), self.local_max_window_bits)
        return Frame(frame.opcode, data, True, True, frame.rsv2, frame.rsv3)


class SharedDeflateFactory(ServerPerMessageDeflateFactory):
    """websockets' negotiation, both no-context-takeover parameters always in the answer,
    and a ``SharedDeflate`` for the connection."""

    def __init__(self) -> None:
        super().__init__(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=WINDOW_BITS,
            client_max_window_bits=WINDOW_BITS,
        )

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        answer, negotiated = super().process_request_params(params, accepted_extensions)
        return answer, SharedDeflate(
            negotiated.remote_max_window_bits, negotiated.local_max_window_bits
        )


DEFLATE = SharedDeflateFactory()


class Inbox:
    """The part of ``asyncio.Queue`` uvicorn's protocol uses for the messages it has received
    (``put_nowait``, ``get``, ``empty``), FIFO, for any number of readers, in ~0.3 KiB: an
    ``asyncio.Queue`` holds four deques and an ``Event`` from birth, ~3.3 KiB a connection, to
    queue what is rarely more than one message (uvicorn stops reading the socket until the
    app has taken the last one)."""

    __slots__ = ("_items", "_waiters")

    def __len__(self) -> int:
        return len(self._items)

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


def frame_header(length: int, opcode: int = OP_TEXT, *, rsv1: bool = False) -> bytes:
    """The header of an unmasked server frame with FIN set and no extension bits but RSV1
    when ``rsv1`` (a compressed message)."""
    first = (0xC0 if rsv1 else 0x80) | opcode
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


class AbortableWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = Inbox()
        self.queue = self._inbox  # type: ignore[assignment]
        if self.conn.available_extensions:  # uvicorn's ws_per_message_deflate (on by default)
            self.conn.available_extensions = [DEFLATE]
        # Frames are read here (None: not decided yet, until the app accepts), and the part
        # of a frame received so far.
        self._direct: bool | None = None
        self._early = False  # bytes came between the request and the accept
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        if self._direct is None and self.handshake_complete:
            self._direct = (
                not self._early
                and not self.close_sent
                and (not self.conn.extensions or self._deflate is not None)
                and self.conn.state is State.OPEN
            )
        if self._direct:
            self._frames_received(data)
            return
        if self.handshake_initiated and not self.handshake_complete:
            self._early = True  # websockets' parser holds them: it reads from now on
        super().data_received(data)

    def _frames_received(self, data: bytes) -> None:
        """Whole data frames go to the app from here; the first other frame, and everything
        after it, to websockets (whole: its parser starts at the frame's first byte)."""
        if self._partial:
            data = self._partial + data
            self._partial = b""
        size = len(data)
        limit = self.conn.max_message_size
        deflate = self._deflate
        at = 0
        while size - at >= 2:
            head, second = data[at], data[at + 1]
            length = second & 0x7F
            start = at + 6  # the payload, after two bytes of header and four of mask
            if length == 126:
                if size - at < 4:
                    break
                length = int.from_bytes(data[at + 2 : at + 4], "big")
                start += 2
            opcode = head & 0x0F
            compressed = head & 0xF0 == 0xC0 and deflate is not None
            if (
                (head & 0xF0 != 0x80 and not compressed)  # not FIN, or an extension bit
                or not second & 0x80  # not masked
                or (second & 0x7F) == 127
                or opcode not in _TAKEN
                or (limit is not None and length > limit)
            ):
                self._hand_over(data[at:])
                return
            end = start + length
            if end > size:
                break
            if opcode not in (OP_TEXT, OP_BINARY):  # a whole control frame: websockets'
                super().data_received(data[at:end])
                at = end
                if self.conn.state is not State.OPEN:  # a close: the rest is websockets'
                    self._hand_over(data[at:])
                    return
                continue
            payload = apply_mask(data[start:end], data[start - 4 : start])
            if compressed:
                if opcode not in (OP_TEXT, OP_BINARY):  # RSV1 on a control frame
                    self._hand_over(data[at:])
                    return
                assert deflate is not None
                inflated = inflate_message(payload, deflate.remote_max_window_bits, limit)
                if inflated is None:  # websockets says why, and closes
                    self._hand_over(data[at:])
                    return
                payload = inflated
            if opcode == OP_TEXT:
                try:
                    message: dict[str, Any] = {
                        "type": "websocket.receive",
                        "text": payload.decode(),
                    }
                except UnicodeDecodeError:
                    self._hand_over(data[at:])
                    return
            else:
                message = {"type": "websocket.receive", "bytes": payload}
            at = end
            if not self.close_sent:  # past the app's close: dropped, as uvicorn does
                self._inbox.put_nowait(message)
                if not self.read_paused and len(self._inbox) >= INBOX_LIMIT:
                    self.read_paused = True
                    self.transport.pause_reading()
        if at < size:
            self._partial = data[at:]

    def _hand_over(self, data: bytes) -> None:
        self._direct = False
        if data:
            super().data_received(data)

    def send_text_now(self, data: bytes) -> bool:
        """Write ``data`` (UTF-8 text) as one text message at once; False, and nothing
        written, when it must wait (the socket's buffer is full) or cannot go (closing):
        the caller then sends it through ASGI, which waits or raises."""
        if (
            self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        deflate = self._deflate
        if deflate is not None and len(data) >= COMPRESS_MIN:
            payload = deflate_message(data, deflate.local_max_window_bits)
            self.transport.write(frame_header(len(payload), OP_TEXT, rsv1=True) + payload)
        elif self.conn.extensions and deflate is None:  # an extension of websockets' own
            self.conn.send_text(data)
            self.transport.write(b"".join(self.conn.data_to_send()))
        else:
            self.transport.write(frame_header(len(data)) + data)
        return True

    @property
    def _deflate(self) -> SharedDeflate | None:
        """The connection's ``SharedDeflate``, when it is its only extension."""
        extensions = self.conn.extensions
        if len(extensions) == 1 and isinstance(extensions[0], SharedDeflate):
            return extensions[0]
        return None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # uvicorn keeps the handshake request, never to read it again (its headers are in the
        # scope): ~2 KiB a connection.
        del self.request
        # So does websockets' parser: the request is a local of its generator's frame, which
        # reads the frames from then on (``ServerProtocol.parse``). Nothing has come after the
        # request (a client waits for the answer): the parser stands at its reader's end, and
        # the frame parser alone (``Protocol.parse``), started, stands at the same place.
        conn = self.conn
        if not conn.reader.buffer and not conn.reader.eof:
            conn.parser = Protocol.parse(conn)
            next(conn.parser)

    async def send(self, message: Any) -> None:
        await super().send(message)
        # uvicorn keeps the handshake's response too, never to read it once sent.
        if self.handshake_complete and "response" in self.__dict__:
            del self.response

    async def run_asgi(self) -> None:
        extensions = self.scope.setdefault("extensions", {})
        extensions[ABORT_EXTENSION] = {"abort": self.transport.abort}
        extensions[DIRECT_EXTENSION] = {"send_text": self.send_text_now, "receive": self.receive}
        await super().run_asgi()
