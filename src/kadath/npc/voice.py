"""How NPCs sound: the frames their speech, emotes and comings and goings travel in."""

from __future__ import annotations

from kadath.domain.npc import NpcInstance
from kadath.services import messenger as frames
from kadath.services.messenger import Frame


def capitalised(npc: NpcInstance) -> str:
    """The NPC's name as the first word of a sentence ("a hunched ghoul" → "A hunched ghoul")."""
    name = npc.name
    return name[:1].upper() + name[1:]


def spoken(text: str) -> str:
    """World-file lines carry their own quotes; strip them so every reply is quoted once."""
    return " ".join(text.split()).strip('"').strip()


def says(npc: NpcInstance, text: str) -> Frame:
    return frames.message("npc", f'{capitalised(npc)} says, "{spoken(text)}"', npc.name)


def acts(npc: NpcInstance, action: str) -> Frame:
    return frames.message("npc", f"{capitalised(npc)} {action}", npc.name)


def left(npc: NpcInstance, text: str) -> Frame:
    return frames.event("left", text, name=npc.name, npc=True)


def arrived(npc: NpcInstance, text: str) -> Frame:
    return frames.event("arrived", text, name=npc.name, npc=True)
