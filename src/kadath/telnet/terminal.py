"""What a client's terminal can show: its width (NAWS) and its features (MTTS bits in TTYPE)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum, IntFlag
from typing import Any

DEFAULT_WIDTH = 80
MIN_WIDTH = 20
MAX_WIDTH = 250
TTYPE_CYCLE = 8


class Mtts(IntFlag):
    """The MUD Terminal Type Standard bits a client reports as ``MTTS <n>``."""

    NONE = 0
    ANSI = 1
    VT100 = 2
    UTF8 = 4
    COLOURS_256 = 8
    MOUSE = 16
    OSC_COLOUR = 32
    SCREEN_READER = 64
    PROXY = 128
    TRUECOLOUR = 256


class Depth(Enum):
    """How many colours to use."""

    NONE = "none"
    ANSI = "16"
    PALETTE = "256"
    TRUECOLOUR = "truecolour"


@dataclass(frozen=True)
class Terminal:
    width: int = DEFAULT_WIDTH
    mtts: Mtts = Mtts.NONE
    # worked out once from the bits: read for every frame and every prompt
    screen_reader: bool = field(init=False, compare=False)
    depth: Depth = field(init=False, compare=False)

    def __post_init__(self) -> None:
        screen_reader = Mtts.SCREEN_READER in self.mtts
        object.__setattr__(self, "screen_reader", screen_reader)
        object.__setattr__(self, "depth", _depth(self.mtts, screen_reader))


def _depth(mtts: Mtts, screen_reader: bool) -> Depth:
    """No colour unless the client said ANSI, and never for a screen reader."""
    if screen_reader or Mtts.ANSI not in mtts:
        return Depth.NONE
    if Mtts.TRUECOLOUR in mtts:
        return Depth.TRUECOLOUR
    if Mtts.COLOURS_256 in mtts:
        return Depth.PALETTE
    return Depth.ANSI


def mtts_bits(ttypes: Iterable[str]) -> Mtts:
    """The bits of the first ``MTTS <n>`` terminal type; none when no client sent one."""
    for ttype in ttypes:
        name, _, number = ttype.strip().partition(" ")
        if name.upper() == "MTTS" and number.isdigit():
            return Mtts(int(number) & 0x1FF)
    return Mtts(0)


def terminal_of(extra: Callable[[str], Any]) -> Terminal:
    """The terminal as negotiated so far, read from a connection's ``get_extra_info``."""
    cols = extra("cols")
    width = cols if isinstance(cols, int) and cols > 0 else DEFAULT_WIDTH
    ttypes = (extra(f"ttype{n}") for n in range(1, TTYPE_CYCLE + 1))
    return Terminal(
        width=min(max(width, MIN_WIDTH), MAX_WIDTH),
        mtts=mtts_bits(t for t in ttypes if isinstance(t, str)),
    )
