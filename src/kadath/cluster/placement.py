"""Placement (protocol 4): a client that says ``follow`` in its hello is sent to the process
holding its character's zone instead of being relayed there.

The relay (the process the client is connected to) asks the zone's holder to open a tunnel as
always, saying the client follows (``follow`` in the open request); a holder with a public URL
(``KADATH_PUBLIC_URL``) then opens nothing and answers with its URL (``place``), and the relay
sends the client a ``moved`` frame (``moved``) and closes the connection (1000, "moved"); the
client connects to that URL and says the same hello. A holder without a public URL, or a
client that does not follow, is relayed as before. The same happens when a following client's
character walks into a zone held elsewhere (the hand-over ends its session here first: it is
saved and out of play before the client is told to move). A ``moved`` client's commands that
got no reply were not run (docs/protocol.md): it sends them again at the new process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kadath.realtime.protocol import CLOSE_NORMAL

MOVED_CLOSE = CLOSE_NORMAL
MOVED_REASON = "moved"


@dataclass(frozen=True, slots=True)
class Placed:
    """A tunnel's outcome: the holder of its zone sends the client to ``url``."""

    url: str


def follows(hello: str) -> bool:
    """Whether a hello (its text, already accepted) asks to follow ``moved`` frames."""
    try:
        data = json.loads(hello)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("follow") is True


def place(request: dict[str, Any], public_url: str | None) -> str | None:
    """The holder's side: the URL to send the client of an open ``request`` to instead of
    opening a tunnel; None to open one (the client does not follow, or this process has no
    public URL)."""
    if public_url is None or request.get("follow") is not True:
        return None
    return public_url


def placed_at(answer: Any) -> str | None:
    """The relay's side: the URL an open's answer sends the client to, if any."""
    if not isinstance(answer, dict):
        return None
    url = answer.get("url")
    return url if isinstance(url, str) and url else None


def moved(url: str, zone: str) -> dict[str, Any]:
    """The frame telling a following client to reconnect at ``url``."""
    return {"type": "moved", "url": url, "zone": zone}
