"""Speech: say, emote, whisper, broadcast; and who is online."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kadath.domain.errors import InvalidInput, NotAllowed, PlayerNotFound
from kadath.domain.events import PlayerSpoke
from kadath.domain.player import Player
from kadath.services import messenger as frames
from kadath.services.events import EventBus
from kadath.services.ignores import IgnoreService
from kadath.services.messenger import Messenger
from kadath.services.presence import Presence

MAX_SPEECH = 500
# Bidi embeddings, overrides, isolates and marks: they could reverse what others' screens show.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x61C)}
# Any character _visible changes: the C0 and C1 controls (category Cc) and _BIDI.
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

# Called before a player's speech (say, emote, whisper, channels); raises a DomainError (with
# the sentence to show) to refuse it. Moderation's mutes plug in here.
SpeechGuard = Callable[[Player], None]


def allow_speech(player: Player) -> None:
    """The default guard: everyone may speak."""


class Listed(Protocol):
    """One line of ``who``: a character in play here (a ``Player``) or elsewhere."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def level(self) -> int: ...
    @property
    def room_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class WhoEntry:
    """A character in play on another process of a cluster, as ``who`` lists it."""

    id: uuid.UUID
    name: str
    level: int
    room_id: str


class Elsewhere(Protocol):
    """The other processes of a cluster (``kadath serve --cluster`` sets
    ``ChatService.elsewhere``; in one process it is None and nothing below is asked)."""

    async def who(self) -> tuple[list[WhoEntry], bool]:
        """The characters in play on the other processes; False when some did not answer."""
        ...

    async def whisper(self, speaker: Player, target_name: str, text: str) -> str | None:
        """Whisper ``text`` (already ``speech``) to a character in play on another process:
        the speaker's reply, or None when none is. Raises NotAllowed as ``whisper`` does."""
        ...

    async def broadcast(self, text: str, sender: str) -> None:
        """Show a broadcast (``text`` already ``speech``) on the other processes."""
        ...


class ChatService:
    def __init__(
        self,
        presence: Presence,
        messenger: Messenger,
        bus: EventBus,
        *,
        ignores: IgnoreService | None = None,
        can_speak: SpeechGuard = allow_speech,
    ) -> None:
        self._presence, self._messenger, self._bus = presence, messenger, bus
        self._ignores, self._can_speak = ignores, can_speak
        self.elsewhere: Elsewhere | None = None  # set by ``kadath serve --cluster``

    async def say(self, speaker: Player, text: str) -> str:
        """Speak to the room; returns what the speaker reads. Raises InvalidInput."""
        text = speech(text)
        self._can_speak(speaker)
        self._messenger.to_room(
            speaker.room_id,
            frames.message("say", f'{speaker.name} says, "{text}"', speaker.name),
            exclude=self._deaf_to(speaker),
        )
        await self._bus.publish(PlayerSpoke(speaker.id, speaker.room_id, text))
        return f'You say, "{text}"'

    def emote(self, actor: Player, text: str) -> str:
        line = f"{actor.name} {speech(text)}"
        self._can_speak(actor)
        self._messenger.to_room(
            actor.room_id, frames.message("emote", line, actor.name), exclude=self._deaf_to(actor)
        )
        return line

    def whisper(self, speaker: Player, target_name: str, text: str) -> str:
        """Only the target hears. Raises PlayerNotFound, NotAllowed, InvalidInput."""
        text = speech(text)
        self._can_speak(speaker)
        target = self._presence.find(target_name)
        if target is None:
            raise PlayerNotFound(f"Nobody called {target_name} is about.")
        return self._whispered(speaker.id, speaker.name, target, text)

    async def whisper_anywhere(self, speaker: Player, target_name: str, text: str) -> str:
        """``whisper``, and in a cluster to a character in play on another process too."""
        try:
            return self.whisper(speaker, target_name, text)
        except PlayerNotFound:
            if self.elsewhere is None:
                raise
            reply = await self.elsewhere.whisper(speaker, target_name, speech(text))
            if reply is None:
                raise
            return reply

    def whisper_from(
        self, speaker_id: uuid.UUID, speaker_name: str, target_name: str, text: str
    ) -> str | None:
        """A whisper from a speaker in play on another process (who was allowed to speak
        there, ``text`` already ``speech``): the speaker's reply, or None when nobody here is
        called ``target_name``. Raises NotAllowed."""
        target = self._presence.find(target_name)
        if target is None:
            return None
        return self._whispered(speaker_id, speaker_name, target, text)

    def _whispered(
        self, speaker_id: uuid.UUID, speaker_name: str, target: Player, text: str
    ) -> str:
        if target.id == speaker_id:
            raise NotAllowed("You mutter to yourself.")
        if self._ignores is not None and self._ignores.ignores(target.id, speaker_id):
            raise NotAllowed(f"{target.name} is not listening to you.")
        self._messenger.to_player(
            target.id,
            frames.message("whisper", f'{speaker_name} whispers to you, "{text}"', speaker_name),
        )
        return f'You whisper to {target.name}, "{text}"'

    def broadcast(self, admin: Player, text: str) -> str:
        """Raises NotAllowed for non-admins."""
        if not admin.is_admin:
            raise NotAllowed("Only admins may broadcast.")
        self.broadcast_from(speech(text), admin.name)
        return "Broadcast sent."

    async def broadcast_anywhere(self, admin: Player, text: str) -> str:
        """``broadcast``, and in a cluster on the other processes too."""
        reply = self.broadcast(admin, text)
        if self.elsewhere is not None:
            await self.elsewhere.broadcast(speech(text), admin.name)
        return reply

    def broadcast_from(self, text: str, sender: str) -> None:
        """Show a broadcast (``text`` already ``speech``) to everyone in play here."""
        self._messenger.to_world(frames.message("broadcast", f"[Broadcast] {text}", sender))

    def who(self) -> list[Player]:
        return self._presence.sorted_by_name()

    async def who_anywhere(self) -> tuple[Sequence[Listed], bool]:
        """``who``, and in a cluster the other processes' characters too, merged by name;
        False when some process did not answer (the list may be partial)."""
        here = self.who()
        if self.elsewhere is None:
            return here, True
        there, complete = await self.elsewhere.who()
        if not there:
            return here, complete  # sorted already (``Presence.sorted_by_name``)
        ids = {p.id for p in here}
        merged: list[Listed] = [*here]
        for entry in there:
            if entry.id not in ids:
                ids.add(entry.id)
                merged.append(entry)
        merged.sort(key=lambda p: p.name.casefold())
        return merged, complete

    def _deaf_to(self, speaker: Player) -> list[uuid.UUID]:
        """Who must not hear ``speaker``: the speaker (who reads the reply) and their ignorers."""
        ignorers = self._ignores.ignorers_of(speaker.id) if self._ignores is not None else ()
        return [speaker.id, *ignorers]


def speech(text: str) -> str:
    """``text`` as others may read it. Raises InvalidInput (empty or too long)."""
    text = " ".join(_visible(text).split())
    if not text:
        raise InvalidInput("Say what?")
    if len(text) > MAX_SPEECH:
        raise InvalidInput(f"That is too long to say (at most {MAX_SPEECH} characters).")
    return text


def _visible(text: str) -> str:
    """``text`` with C0/C1 controls turned into spaces and bidi controls dropped."""
    if _UNSEEN.search(text) is None:
        return text  # the common case, without a look at each character
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text if c not in _BIDI)
