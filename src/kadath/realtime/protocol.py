"""The JSON frames of the game protocol (see docs/protocol.md): parsing what clients send."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_AUTH_FAILED = 4401
CLOSE_FORBIDDEN = 4403  # banned at hello; kicked or banned while connected
CLOSE_REPLACED = 4409
CLOSE_TOO_SLOW = 4408
CLOSE_HELLO_TIMEOUT = 4400

MAX_ID = 64
MAX_DEPTH = 32  # game frames are flat; deeper nesting is refused before the parser recurses
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f]")  # C0 controls but the tab: dropped from a line
# ``json.loads(raw)`` without its three Python frames around the (C) scanner: same results,
# and ValueError (or RecursionError) for what it refuses.
_SCAN: Any = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009 (not in typeshed)
_SPACE: Any = getattr(json.decoder, "WHITESPACE").match  # noqa: B009


def _loads(raw: str) -> Any:
    try:
        data, end = _SCAN(raw, _SPACE(raw, 0).end())
    except StopIteration:
        raise ValueError("no JSON value") from None
    if _SPACE(raw, end).end() != len(raw):
        raise ValueError("extra data after the JSON value")
    return data


class BadFrame(Exception):
    """The frame cannot be understood; ``code`` and the message go back in an error frame,
    with ``re`` when the frame was a command whose id could be read."""

    def __init__(self, code: str, text: str, re: str | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.re = re


@dataclass(frozen=True)
class Hello:
    token: str
    player: str
    batch: bool = False  # protocol 3: the client takes a batch of frames as one JSON array
    follow: bool = False  # protocol 4: the client reconnects where a ``moved`` frame says


@dataclass(frozen=True)
class CommandFrame:
    id: str
    text: str


@dataclass(frozen=True)
class Ping:
    pass


ClientFrame = Hello | CommandFrame | Ping


def parse(raw: str, *, max_line: int) -> ClientFrame:
    """One client frame. Raises BadFrame."""
    if len(raw) > max_line * 4 + 256:
        raise BadFrame("too_long", f"That frame is too long; lines may be {max_line} characters.")
    if _too_deep(raw):
        raise BadFrame("bad_frame", f"Frames may nest at most {MAX_DEPTH} levels deep.")
    try:
        data: Any = _loads(raw)
    except (ValueError, RecursionError):
        raise BadFrame("bad_frame", "Frames must be JSON objects.") from None
    if not isinstance(data, dict):
        raise BadFrame("bad_frame", "Frames must be JSON objects.")
    kind = data.get("type")
    if kind == "command":
        return _command(data, max_line)
    if kind == "ping":
        return Ping()
    if kind == "hello":
        token, player = data.get("token"), data.get("player")
        if not isinstance(token, str) or not isinstance(player, str) or not player:
            raise BadFrame("bad_frame", "hello needs a token and a player name.")
        return Hello(
            token=token,
            player=player[:64],
            batch=data.get("batch") is True,
            follow=data.get("follow") is True,
        )
    raise BadFrame("unknown_type", f"Unknown frame type {str(kind)[:30]!r}.")


def _command(data: dict[str, Any], max_line: int) -> CommandFrame:
    frame_id, text = data.get("id"), data.get("text")
    if not isinstance(frame_id, str | int) or isinstance(frame_id, bool):
        raise BadFrame("bad_frame", "A command needs an id (a string).")
    frame_id = str(frame_id)
    if len(frame_id) > MAX_ID:
        raise BadFrame("bad_frame", f"A command id may be at most {MAX_ID} characters.")
    if not isinstance(text, str):
        raise BadFrame("bad_frame", "A command needs its text.", frame_id)
    return command(frame_id, text, max_line=max_line)


def command(frame_id: str, text: str, *, max_line: int) -> CommandFrame:
    """A command with its id and text read already (a telnet line, a parsed frame), held to
    the rules ``parse`` applies to one: at most ``max_line`` characters, control characters
    dropped. Raises BadFrame."""
    if len(frame_id) > MAX_ID:
        raise BadFrame("bad_frame", f"A command id may be at most {MAX_ID} characters.")
    if len(text) > max_line:
        raise BadFrame(
            "too_long", f"That line is too long (at most {max_line} characters).", frame_id
        )
    if _CONTROL.search(text) is not None:
        text = _CONTROL.sub("", text)
    return CommandFrame(id=frame_id, text=text)


def _too_deep(raw: str) -> bool:
    """Whether brackets outside strings nest deeper than MAX_DEPTH (without recursing)."""
    if raw.count("[") + raw.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", raw)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False
