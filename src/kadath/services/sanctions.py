"""The mutes and freezes in force, in memory: loaded at start-up, changed only after the
commit that wrote them, so a command's check needs no query. ``mutes.check(player_id)`` is
what every kind of speech calls (say, emote, whisper, channels)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from kadath.domain.errors import Sanctioned
from kadath.domain.moderation import Sanction, SanctionKind
from kadath.services.clock import Clock
from kadath.services.presence import Presence

_REFUSALS = {
    SanctionKind.MUTE: "You are muted {until}; you cannot speak.",
    SanctionKind.FREEZE: "You are frozen {until}; you can only look, ask for help or quit.",
    SanctionKind.BAN: "Your account is banned {until}.",
}


class SanctionBook:
    """Sanctions in force by account and kind; an expired one is dropped when next asked."""

    def __init__(self, presence: Presence, clock: Clock) -> None:
        self._presence, self._clock = presence, clock
        self._in_force: dict[tuple[uuid.UUID, SanctionKind], Sanction] = {}
        # How many sanctions of each kind are recorded: every command asks about freezes and
        # every speech about mutes, nearly always with none in force (``of_player``).
        self._counts: dict[SanctionKind, int] = dict.fromkeys(SanctionKind, 0)
        self.mutes = SanctionCheck(self, SanctionKind.MUTE)
        self.freezes = SanctionCheck(self, SanctionKind.FREEZE)

    def load(self, sanctions: Iterable[Sanction]) -> None:
        for sanction in sanctions:
            self.record(sanction)

    def record(self, sanction: Sanction) -> None:
        """After the commit that wrote ``sanction``."""
        key = (sanction.account_id, sanction.kind)
        if key not in self._in_force:
            self._counts[sanction.kind] += 1
        self._in_force[key] = sanction

    def lift(self, account_id: uuid.UUID, kind: SanctionKind) -> None:
        """After the commit that lifted it."""
        if self._in_force.pop((account_id, kind), None) is not None:
            self._counts[kind] -= 1

    def of_account(self, account_id: uuid.UUID, kind: SanctionKind) -> Sanction | None:
        sanction = self._in_force.get((account_id, kind))
        if sanction is not None and not sanction.in_force(self._clock.now()):
            del self._in_force[account_id, kind]
            self._counts[kind] -= 1
            return None
        return sanction

    def of_player(self, player_id: uuid.UUID, kind: SanctionKind) -> Sanction | None:
        if not self._counts[kind]:
            return None  # none of this kind: no lookup of the character nor its account
        player = self._presence.get(player_id)
        return None if player is None else self.of_account(player.account_id, kind)

    def refusal(self, sanction: Sanction) -> Sanctioned:
        text = _REFUSALS[sanction.kind].format(until=sanction.until(self._clock.now()))
        return Sanctioned(text)


class SanctionCheck:
    """One kind of sanction, asked about a character in play."""

    def __init__(self, book: SanctionBook, kind: SanctionKind) -> None:
        self._book, self._kind = book, kind

    def check(self, player_id: uuid.UUID) -> None:
        """Raises Sanctioned (a NotAllowed) with the time left when the character's account
        is under this sanction."""
        sanction = self._book.of_player(player_id, self._kind)
        if sanction is not None:
            raise self._book.refusal(sanction)

    def applies(self, player_id: uuid.UUID) -> bool:
        return self._book.of_player(player_id, self._kind) is not None
