"""Lucidity: how near a character stands to madness, and how that colours what they see."""

from __future__ import annotations

from enum import StrEnum

from kadath.domain.rng import Rng
from kadath.domain.stats import MAX_LUCIDITY

SAFE_ROOM_RECOVERY = 5


class LucidityBand(StrEnum):
    LUCID = "lucid"
    UNEASY = "uneasy"
    DISTURBED = "disturbed"
    MAD = "mad"


# Lowest lucidity that still belongs to each band, checked from the top.
_BAND_FLOORS = (
    (70, LucidityBand.LUCID),
    (40, LucidityBand.UNEASY),
    (15, LucidityBand.DISTURBED),
)

_TINTS: dict[LucidityBand, tuple[str, ...]] = {
    LucidityBand.UNEASY: (
        "The shadows in the corners seem a shade too deep.",
        "You cannot shake the feeling that something has just stopped moving.",
        "A faint smell of brine hangs here, though the sea is miles off.",
    ),
    LucidityBand.DISTURBED: (
        "The angles of the walls do not meet as angles should.",
        "Somewhere beneath the floor, something is whispering your name.",
        "For a moment the light bends, and you glimpse a sky that is not this sky.",
    ),
    LucidityBand.MAD: (
        "The walls breathe. They have always breathed. Why did you never notice?",
        "Eyes open in the grain of the wood and watch you, patient and hungry.",
        "Ph'nglui mglw'nafh... the words rise unbidden in your throat.",
    ),
}


def band_for(lucidity: int) -> LucidityBand:
    """LUCID from 70, UNEASY from 40, DISTURBED from 15, MAD below."""
    for floor, band in _BAND_FLOORS:
        if lucidity >= floor:
            return band
    return LucidityBand.MAD


def tint_description(text: str, band: LucidityBand, rng: Rng) -> str:
    """The text as seen in this band: unchanged when LUCID, else with one unsettling line."""
    if band is LucidityBand.LUCID:
        return text
    return f"{text} {rng.choice(_TINTS[band])}"


def rest_recovery(in_safe_room: bool) -> int:
    """Lucidity regained by resting: only a safe room calms the mind."""
    return SAFE_ROOM_RECOVERY if in_safe_room else 0


def clamp_lucidity(value: int) -> int:
    return max(0, min(MAX_LUCIDITY, value))
