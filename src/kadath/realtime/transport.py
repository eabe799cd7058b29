"""What the real-time layer needs of a connection; WebSocket (and later telnet) adapt to it."""

from __future__ import annotations

from typing import Protocol


class TransportClosed(Exception):
    """The peer went away."""


class Transport(Protocol):
    remote: str

    async def receive_text(self) -> str:
        """The next text frame. Raises TransportClosed."""
        ...

    async def send_text(self, text: str) -> None:
        """Raises TransportClosed."""
        ...

    async def close(self, code: int, reason: str) -> None: ...

    def abort(self) -> None:
        """Drop the connection at once, unsent data and all (a peer that reads nothing)."""
        ...
