"""One frame on its way out, shared by every connection it goes to.

The Hub wraps a frame once per fan-out; each connection queues ``(seq, Outgoing)``. The JSON
body is encoded at most once whatever the number of recipients, and a transport may keep its
own renderings of the frame beside it (telnet text per terminal profile, GMCP messages), so
a room of a hundred listeners costs one encoding and one rendering per kind of terminal."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from kadath.services.messenger import Frame

T = TypeVar("T")
_NONE: Any = object()  # no rendering kept under a key (a rendering may itself be None)
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
# The C encoder ``JSONEncoder.encode`` builds for each call (with its two Python frames around
# it), built once: the same text as ``json.dumps(frame, separators=(",", ":"), default=str)``.
# It keeps no record of the containers it is in (frames are never circular: one that were
# would raise RecursionError instead of ValueError).
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Callable[[Any, int], list[str]] | None = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
)


def encode(frame: Frame) -> str:
    """A frame as compact JSON (``json.dumps`` with ``separators=(",", ":")``, ``default=str``)."""
    if _C_ENCODE is None:  # a Python without json's C speed-ups
        return _ENCODER.encode(frame)
    return "".join(_C_ENCODE(frame, 0))


class Outgoing:
    """A frame (never changed once wrapped) and what has been made of it so far."""

    __slots__ = ("_body", "_renderings", "frame")

    def __init__(self, frame: Frame) -> None:
        if not frame:
            raise ValueError("a frame needs at least a type")
        self.frame = frame
        self._body: str | None = None
        self._renderings: dict[Hashable, Any] | None = None

    @property
    def body(self) -> str:
        """The frame as compact JSON without its opening brace (so a ``seq`` can go in
        front); encoded on first use only."""
        if self._body is None:
            self._body = encode(self.frame)[1:]
        return self._body

    def text(self, seq: int) -> str:
        """The frame as one connection sends it: JSON with its ``seq`` first."""
        return f'{{"seq":{seq},{self.body}'

    def rendering(self, key: Hashable, make: Callable[[Frame], T]) -> T:
        """``make(frame)``, made once per ``key`` and kept with the frame. What ``make``
        returns is shared by every connection asking for the same key: never change it."""
        renderings = self._renderings
        if renderings is None:  # the first rendering (a frame to one connection: the only)
            made: T = make(self.frame)
            self._renderings = {key: made}
            return made
        made = renderings.get(key, _NONE)
        if made is _NONE:  # no try/except: a miss is the common case, and raising costs
            made = renderings[key] = make(self.frame)
        return made


Delivery = tuple[int, Outgoing]  # (seq on this connection, the frame)
