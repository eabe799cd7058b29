"""Speech: say, emote, whisper, broadcast; and who is online."""

from __future__ import annotations

import unicodedata

from kadath.domain.errors import InvalidInput, NotAllowed, PlayerNotFound
from kadath.domain.events import PlayerSpoke
from kadath.domain.player import Player
from kadath.services import messenger as frames
from kadath.services.events import EventBus
from kadath.services.messenger import Messenger
from kadath.services.presence import Presence

MAX_SPEECH = 500
# Bidi embeddings, overrides, isolates and marks: they could reverse what others' screens show.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x61C)}


class ChatService:
    def __init__(self, presence: Presence, messenger: Messenger, bus: EventBus) -> None:
        self._presence, self._messenger, self._bus = presence, messenger, bus

    async def say(self, speaker: Player, text: str) -> str:
        """Speak to the room; returns what the speaker reads. Raises InvalidInput."""
        text = _speech(text)
        self._messenger.to_room(
            speaker.room_id,
            frames.message("say", f'{speaker.name} says, "{text}"', speaker.name),
            exclude=[speaker.id],
        )
        await self._bus.publish(PlayerSpoke(speaker.id, speaker.room_id, text))
        return f'You say, "{text}"'

    def emote(self, actor: Player, text: str) -> str:
        line = f"{actor.name} {_speech(text)}"
        self._messenger.to_room(
            actor.room_id, frames.message("emote", line, actor.name), exclude=[actor.id]
        )
        return line

    def whisper(self, speaker: Player, target_name: str, text: str) -> str:
        """Only the target hears. Raises PlayerNotFound, NotAllowed, InvalidInput."""
        text = _speech(text)
        target = self._presence.find(target_name)
        if target is None:
            raise PlayerNotFound(f"Nobody called {target_name} is about.")
        if target.id == speaker.id:
            raise NotAllowed("You mutter to yourself.")
        self._messenger.to_player(
            target.id,
            frames.message("whisper", f'{speaker.name} whispers to you, "{text}"', speaker.name),
        )
        return f'You whisper to {target.name}, "{text}"'

    def broadcast(self, admin: Player, text: str) -> str:
        """Raises NotAllowed for non-admins."""
        if not admin.is_admin:
            raise NotAllowed("Only admins may broadcast.")
        self._messenger.to_world(
            frames.message("broadcast", f"[Broadcast] {_speech(text)}", admin.name)
        )
        return "Broadcast sent."

    def who(self) -> list[Player]:
        return sorted(self._presence.all(), key=lambda p: p.name.casefold())


def _speech(text: str) -> str:
    text = " ".join(_visible(text).split())
    if not text:
        raise InvalidInput("Say what?")
    if len(text) > MAX_SPEECH:
        raise InvalidInput(f"That is too long to say (at most {MAX_SPEECH} characters).")
    return text


def _visible(text: str) -> str:
    """``text`` with C0/C1 controls turned into spaces and bidi controls dropped."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text if c not in _BIDI)
