"""NPCs talking: answering keywords said in their room, greeting arrivals, emoting now and then.

Answers and greetings are queued and sent on the next tick, so a player reads their own
"You say …" or the room they walked into before the NPC's reply."""

from __future__ import annotations

import re
import uuid
from collections import deque
from dataclasses import dataclass

import structlog

from kadath.domain.events import PlayerEnteredRoom, PlayerSpoke
from kadath.domain.npc import NpcInstance, NpcState
from kadath.domain.world import NpcKind
from kadath.npc import voice
from kadath.services.game import Game
from kadath.services.messenger import Frame

log = structlog.get_logger(__name__)
GREET_COOLDOWN = 300.0
EMOTE_CHANCE = 0.05
EMOTE_MIN_GAP = 30.0
MAX_QUEUED = 1000
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class Line:
    """A frame waiting for the next tick: to a room, or to one player when ``player_id`` is set."""

    frame: Frame
    room_id: str
    player_id: uuid.UUID | None = None


class NpcDialogue:
    def __init__(self, game: Game) -> None:
        self._game = game
        self._queue: deque[Line] = deque(maxlen=MAX_QUEUED)
        self._greeted: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
        self.failures = 0

    async def on_player_spoke(self, event: PlayerSpoke) -> None:
        """NPCs in the room answer a keyword; if some were named, only those answer."""
        listeners = [n for n in self._game.npcs.in_room(event.room_id) if can_talk(n)]
        if not listeners:
            return  # most rooms: nobody to answer, no words to split
        words = set(_WORD.findall(event.text.lower()))
        named = [
            n for n in listeners if words.intersection(k.lower() for k in n.definition.keywords)
        ]
        for npc in named or listeners:
            reply = reply_to(npc, words, event.text.lower())
            if reply is not None:
                self._queue.append(Line(voice.says(npc, reply), event.room_id))

    async def on_player_entered(self, event: PlayerEnteredRoom) -> None:
        """Friendly NPCs greet an arriving player, at most once per player per few minutes."""
        now = self._game.clock.monotonic()
        for npc in self._game.npcs.in_room(event.room_id):
            greeting = npc.definition.dialogue.greeting
            if greeting is None or not can_talk(npc) or npc.definition.kind is NpcKind.AGGRESSIVE:
                continue
            key = (npc.id, event.player_id)
            if now - self._greeted.get(key, -GREET_COOLDOWN) < GREET_COOLDOWN:
                continue
            self._greeted[key] = now
            self._queue.append(Line(voice.says(npc, greeting), event.room_id, event.player_id))

    async def flush_step(self, now: float) -> None:
        """Send what NPCs said since the last tick."""
        messenger = self._game.messenger
        while self._queue:
            line = self._queue.popleft()
            if line.player_id is not None:
                messenger.to_player(line.player_id, line.frame)
            else:
                messenger.to_room(line.room_id, line.frame)

    async def emote_step(self, now: float) -> None:
        """Now and then an NPC with an audience does one of its emotes."""
        clock_now = self._game.clock.monotonic()
        for npc in self._game.npcs.all():
            try:
                self.maybe_emote(npc, clock_now)
            except Exception:
                self.failures += 1
                log.exception("npc_emote_failed", npc=npc.definition.id)
        self._forget_greetings(clock_now)

    def maybe_emote(self, npc: NpcInstance, now: float) -> None:
        emotes = npc.definition.dialogue.emotes
        if not emotes or not can_talk(npc) or now - npc.last_emote < EMOTE_MIN_GAP:
            return
        if not self._game.presence.ids_in_room(npc.room_id):
            return
        if self._game.rng.random() < EMOTE_CHANCE:
            npc.last_emote = now
            self._game.messenger.to_room(
                npc.room_id, voice.acts(npc, self._game.rng.choice(emotes))
            )

    def _forget_greetings(self, now: float) -> None:
        stale = [k for k, at in self._greeted.items() if now - at >= GREET_COOLDOWN]
        for key in stale:
            del self._greeted[key]


def can_talk(npc: NpcInstance) -> bool:
    return npc.alive and npc.state is not NpcState.FIGHTING


def reply_to(npc: NpcInstance, words: set[str], text: str) -> str | None:
    """The answer to the first of the NPC's keywords the speech mentions, if any."""
    for keyword, reply in npc.definition.dialogue.keywords.items():
        key = keyword.lower()
        if key in words or f"{key}s" in words or (" " in key and key in text):
            return reply
    return None
