"""Typed lines out of a telnet byte stream: bounded, cleaned of control characters, and with
the backspaces of character-at-a-time clients applied."""

from __future__ import annotations

import re
from typing import NamedTuple

ERASE = "\x08\x7f"
# what the character-by-character path is needed for: erasing, and control characters to drop
_SPECIAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_END = re.compile("\r\n|\r|\n")


class Line(NamedTuple):
    """A typed line (a tuple: made for every command, cheaper than a frozen dataclass)."""

    text: str
    too_long: bool = False


class LineBuffer:
    """Collects text; a line over ``limit`` characters is dropped up to its end and reported
    once as too long, so a flood never holds more than ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chars: list[str] = []
        self._overflow = False
        self._after_cr = False

    @property
    def limit(self) -> int:
        return self._limit

    def at_line_start(self) -> bool:
        """Whether nothing of a line is held: the next text starts a new line (no partial
        line, no line being dropped as too long, no CR whose LF may follow)."""
        return not self._chars and not self._overflow and not self._after_cr

    def feed(self, text: str) -> list[Line]:
        """The lines ``text`` completes."""
        if not text:
            return []
        if _SPECIAL.search(text) is None:
            return self._feed_plain(text)
        done: list[Line] = []
        for char in text:
            if char == "\n" and self._after_cr:
                self._after_cr = False
                continue  # CR LF is one line end
            self._after_cr = char == "\r"
            if char in "\r\n":
                done.append(self._finish())
            elif char in ERASE:
                if self._chars and not self._overflow:
                    self._chars.pop()
            elif char == "\t" or (ord(char) >= 32 and not 0x7F <= ord(char) < 0xA0):
                self._add(char)
        return done

    def _feed_plain(self, text: str) -> list[Line]:
        """``feed`` for text of printable characters, tabs and line ends only (what is
        typed, nearly always), a line at a time instead of a character at a time."""
        done: list[Line] = []
        start = 1 if self._after_cr and text[0] == "\n" else 0  # CR LF split between reads
        for end in _LINE_END.finditer(text, start):
            self._add_all(text[start : end.start()])
            done.append(self._finish())
            start = end.end()
        self._add_all(text[start:])
        self._after_cr = text[-1] == "\r"
        return done

    def _add_all(self, chars: str) -> None:
        if self._overflow or not chars:
            return
        if len(self._chars) + len(chars) > self._limit:
            self._overflow = True
            self._chars.clear()
            return
        self._chars.extend(chars)

    def _add(self, char: str) -> None:
        if self._overflow:
            return
        if len(self._chars) >= self._limit:
            self._overflow = True
            self._chars.clear()
            return
        self._chars.append(char)

    def _finish(self) -> Line:
        line = Line("".join(self._chars).strip(), too_long=self._overflow)
        self._chars.clear()
        self._overflow = False
        return line
