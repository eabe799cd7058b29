"""Failover of a relayed player (``kadath serve --cluster``; docs/scaling.md, "Failover of a
relayed player"): what a relay keeps to answer every command exactly once when the holder of
its client's zone is lost, what it tells the client, and how long it goes on routing it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import BadFrame, CommandFrame, Ping, parse

SHIFTS = "The world shifts around you..."  # a failover began (a system message)
SHIFTED = "The world shifted before that was done; it may not have happened."
NOT_DONE = "The world is reorganising; that was not done."  # a command no holder was sent
# How long a relay keeps routing a client whose zone has no holder, in leases (plus two
# renewal periods): see ``failover_bound``.
FAILOVER_LEASES = 2


def failover_bound(lease: float, renew: float) -> float:
    """Seconds a relay goes on routing a client whose holder was lost (or whose zone nobody
    answered for) before it gives up ("try again", 1013). A dead holder's zones move within a
    lease and two renewal periods of its death (docs/scaling.md, "The lease bound"), and the
    relay hears of the death a lease after the last heartbeat; two leases and two renewal
    periods from then leave room for a loaded machine (15 s with the tests' 6 s / 1.5 s, 40 s
    by default)."""
    return FAILOVER_LEASES * lease + 2 * renew


@dataclass(frozen=True)
class Lost:
    """How a tunnel ended when its holder was lost: silent for a lease after the tunnel opened
    (``opened``), or nobody answered the zone's ``open`` (not ``opened``: nothing was sent).
    ``unanswered``: the ids of the commands sent on the tunnel that got no reply (nor error
    naming them), in order; ``pings``: the pings sent that got no pong."""

    opened: bool
    unanswered: tuple[str, ...] = ()
    pings: int = 0


class Owed:
    """What a client sent that still awaits its answer: the ids of commands (a reply, or an
    error naming the command, carries the id in ``re``) and pings (a pong answers the oldest).
    Each text is parsed as the holder's connection handler will parse it."""

    def __init__(self, max_line: int) -> None:
        self._max_line = max_line
        self.ids: list[str] = []  # in the order sent
        self.pings = 0

    def ask(self, text: str) -> None:
        try:
            frame = parse(text, max_line=self._max_line)
        except BadFrame as exc:
            if exc.re is not None:
                self.ids.append(exc.re)
            return
        if isinstance(frame, CommandFrame):
            self.ids.append(frame.id)
        elif isinstance(frame, Ping):
            self.pings += 1

    def answered(self, batch: Sequence[Delivery]) -> None:
        for _seq, frame in batch:
            kind, re = frame.frame.get("type"), frame.frame.get("re")
            if kind in ("reply", "error") and isinstance(re, str) and re in self.ids:
                self.ids.remove(re)  # the first: a holder answers in order
            elif kind == "pong" and self.pings:
                self.pings -= 1


def answers(ids: Sequence[str], pings: int, text: str) -> list[Delivery]:
    """A refusing reply (``text``) for each command id, and a pong for each ping (to be
    numbered)."""
    frames: list[Delivery] = []
    for frame_id in ids:
        frames.append((0, Outgoing({"type": "reply", "re": frame_id, "ok": False, "text": text})))
    frames += [(0, Outgoing({"type": "pong"}))] * pings
    return frames


def failover_frames(lost: Lost, notice: bool) -> list[Delivery]:
    """What a relay tells its client when the holder was lost (to be numbered): the notice
    (``notice``: a failover begins for a greeted client), then an error reply for each command
    the lost holder did not answer (it may or may not have run it; it is not run again), and a
    pong for each ping it did not answer."""
    frames: list[Delivery] = []
    if notice:
        shift = {"type": "message", "channel": "system", "from": None, "text": SHIFTS}
        frames.append((0, Outgoing(shift)))
    return frames + answers(lost.unanswered, lost.pings, SHIFTED)
