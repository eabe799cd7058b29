"""What the real-time layer needs of a connection; WebSocket and telnet adapt to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from kadath.realtime.outgoing import Delivery
from kadath.realtime.protocol import CommandFrame


class TransportClosed(Exception):
    """The peer went away."""


class Transport(Protocol):
    remote: str

    async def receive_text(self) -> str:
        """The next text frame. Raises TransportClosed."""
        ...

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        """Write ``batch`` (frames with their ``seq``, in order) in as few writes as the
        peer allows. Never changes the shared frames. Raises TransportClosed."""
        ...

    def use_batches(self) -> None:
        """The client asked in its hello for a batch to arrive as one message."""
        ...

    async def close(self, code: int, reason: str) -> None: ...

    def abort(self) -> None:
        """Drop the connection at once, unsent data and all (a peer that reads nothing)."""
        ...


@runtime_checkable
class CommandTransport(Transport, Protocol):
    """A transport that makes some commands itself (telnet: a typed line) and hands them over
    as they are, without a JSON round trip; other frames still come as text."""

    async def receive_frame(self) -> str | CommandFrame:
        """The next frame: a command made by the transport (the connection holds it to the
        rules ``parse`` applies), or a text frame to parse. Raises TransportClosed."""
        ...


@runtime_checkable
class DirectTransport(Transport, Protocol):
    """A transport that can often write at once, without waiting (WebSocket on Kadath's
    uvicorn protocol): the session then writes from a loop callback instead of waking its
    writer task for each batch."""

    def send_frames_now(self, batch: Sequence[Delivery]) -> bool:
        """Write ``batch`` now and return True; or write nothing and return False when it
        would have to wait (the peer's buffer is full) or cannot go (closing): the writer
        then sends it with ``send_frames``. Never raises for the peer's behaviour."""
        ...


@runtime_checkable
class QueueingTransport(Transport, Protocol):
    """A transport that queues what it is sent itself and never makes the sender wait (a
    tunnel gathering its messages: ``kadath.cluster.tunnel``): the session hands it its frames
    at once, without waking its writer."""

    def put_frames(self, batch: Sequence[Delivery]) -> bool:
        """Take ``batch`` now, as ``send_frames`` would; False (nothing taken) when it cannot:
        the session's writer then sends it."""
        ...


@runtime_checkable
class TextTransport(Transport, Protocol):
    """A transport whose frames go on the wire as their JSON text (WebSocket): a relay that
    has the texts already (``kadath.cluster.tunnel``) hands them over as they are."""

    async def send_texts(self, texts: Sequence[str]) -> None:
        """Write ``texts`` (each a frame's JSON, ``seq`` first, in order) as ``send_frames``
        writes frames. Raises TransportClosed."""
        ...
