"""Game frames as terminal text: wrapped to the client's width, coloured by channel at the
client's colour depth, and plain for screen readers."""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Mapping
from typing import Any

from kadath.telnet.terminal import Depth, Terminal

RGB = tuple[int, int, int]
# channel -> (basic SGR code, RGB for richer terminals)
PALETTE: Mapping[str, tuple[str, RGB]] = {
    "say": ("36", (95, 215, 215)),
    "emote": ("35", (215, 135, 215)),
    "whisper": ("35", (175, 135, 255)),
    "broadcast": ("1;33", (255, 215, 0)),
    "channel": ("34", (135, 175, 215)),
    "system": ("33", (215, 175, 95)),
    "combat": ("31", (255, 95, 95)),
    "npc": ("32", (135, 215, 135)),
    "event": ("33", (215, 175, 95)),
    "error": ("31", (255, 95, 95)),
    "title": ("1;37", (255, 255, 255)),
    "exits": ("32", (95, 215, 95)),
    "prompt": ("2;37", (168, 168, 168)),
}
RESET = "\x1b[0m"
# characters that only decorate, and what a screen reader should hear instead
_PLAIN = str.maketrans({"×": "", "—": ", ", "…": "..."})


def colour(text: str, channel: str, depth: Depth) -> str:
    """``text`` in the channel's colour (unchanged without colour or a known channel)."""
    if depth is Depth.NONE or channel not in PALETTE or not text:
        return text
    basic, (r, g, b) = PALETTE[channel]
    if depth is Depth.TRUECOLOUR:
        code = f"38;2;{r};{g};{b}"
    elif depth is Depth.PALETTE:
        code = f"38;5;{16 + 36 * round(r / 51) + 6 * round(g / 51) + round(b / 51)}"
    else:
        code = basic
    bold = "1;" if basic.startswith("1;") and depth is not Depth.ANSI else ""
    return f"\x1b[{bold}{code}m{text}{RESET}"


def wrap(text: str, width: int) -> list[str]:
    """Each line of ``text`` wrapped to ``width`` columns; blank lines kept."""
    out: list[str] = []
    for line in text.splitlines() or [""]:
        if len(line) <= width and "\t" not in line:
            out.append(line.rstrip(" \t\n\r\x0b\x0c"))  # as textwrap would, at no cost
        else:
            out.extend(_wrapped(line, width))
    return out


@functools.lru_cache(maxsize=4096)
def _wrapped(line: str, width: int) -> tuple[str, ...]:
    """One long line wrapped, as ``textwrap`` would (kept: the world's descriptions come
    back with every look and every step)."""
    words = line.rstrip(" ").split(" ")
    if "\t" in line or line.startswith(" ") or "" in words or max(map(len, words)) > width:
        # tabs, runs of spaces or words wider than the screen: textwrap's own rules
        # textwrap may leave a space at the end of a line it broke inside a run of spaces
        parts = textwrap.wrap(line, width, break_on_hyphens=False) or [""]
        return tuple(part.rstrip(" \t") for part in parts)
    lines: list[str] = []
    current: list[str] = []
    used = -1  # the length of the current line, counting the space before the next word
    for word in words:
        if used + 1 + len(word) > width:
            lines.append(" ".join(current))
            current, used = [], -1
        current.append(word)
        used += 1 + len(word)
    lines.append(" ".join(current))
    return tuple(lines)


def render(frame: Mapping[str, Any], terminal: Terminal) -> list[str]:
    """The lines a frame shows (none for frames that only carry data)."""
    kind = frame.get("type")
    text = channel_line(frame) if kind == "channel" else frame.get("text")
    if not isinstance(text, str) or not text:
        return []
    if terminal.screen_reader:
        text = text.translate(_PLAIN)
    lines = wrap(text, terminal.width)
    depth = terminal.depth
    if depth is Depth.NONE:
        return lines  # what ``colour`` makes of each line without colour
    if kind == "room":
        return _room(lines, depth)
    channel = _channel(frame)
    return [colour(line, channel, depth) for line in lines]


def channel_line(frame: Mapping[str, Any]) -> str:
    """A ``channel`` frame as one line: ``[ooc] Name: text``."""
    return f"[{frame.get('channel')}] {frame.get('from')}: {frame.get('text')}"


def _channel(frame: Mapping[str, Any]) -> str:
    kind = frame.get("type")
    if kind == "channel":
        return "channel"
    if kind == "message":
        return str(frame.get("channel"))
    if kind == "event":
        return "event"
    if kind == "error" or (kind == "reply" and frame.get("ok") is False):
        return "error"
    return ""


def _room(lines: list[str], depth: Depth) -> list[str]:
    shown = [colour(lines[0], "title", depth)]
    for line in lines[1:]:
        shown.append(colour(line, "exits", depth) if line.startswith("Exits:") else line)
    return shown


def prompt(vitals: Mapping[str, Any], terminal: Terminal) -> str:
    """The prompt line: health and lucidity (spelled out for a screen reader)."""
    hp, max_hp = vitals.get("health", "?"), vitals.get("max_health", "?")
    luc, max_luc = vitals.get("lucidity", "?"), vitals.get("max_lucidity", 100)
    if terminal.screen_reader:
        return f"Health {hp} of {max_hp}, lucidity {luc} of {max_luc}."
    return colour(f"[HP {hp}/{max_hp} Luc {luc}/{max_luc}]", "prompt", terminal.depth) + " >"
