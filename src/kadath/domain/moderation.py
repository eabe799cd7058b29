"""Moderation's records: sanctions (mute, freeze, ban), player reports and the audit log,
and the rules on durations and who may act on whom."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kadath.domain.account import Role
from kadath.domain.errors import Forbidden, InvalidInput

MAX_REASON = 300
MAX_REPORT = 500
MAX_DURATION = timedelta(days=3650)
FOREVER_WORDS = frozenset({"forever", "permanent", "perm"})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d{1,6}[smhdw])+")
_PART = re.compile(r"(\d{1,6})([smhdw])")


class SanctionKind(StrEnum):
    MUTE = "mute"
    FREEZE = "freeze"
    BAN = "ban"


class AuditAction(StrEnum):
    ROLE = "role"
    KICK = "kick"
    MUTE = "mute"
    UNMUTE = "unmute"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    BAN = "ban"
    UNBAN = "unban"
    REPORT = "report"
    REPORT_CLOSE = "report_close"
    GRANT = "grant"
    REVOKE = "revoke"


@dataclass(frozen=True, slots=True)
class Sanction:
    """A mute, freeze or ban of an account, in force until ``ends_at`` (None: until lifted)."""

    id: uuid.UUID
    account_id: uuid.UUID
    kind: SanctionKind
    reason: str
    created_at: datetime
    ends_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.ends_at is None or now < self.ends_at

    def until(self, now: datetime) -> str:
        """'for another 9m 58s', or 'until it is lifted'."""
        if self.ends_at is None:
            return "until it is lifted"
        return f"for another {describe(self.ends_at - now)}"


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    reporter: str
    target: str
    text: str
    created_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: AuditAction
    target: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    target: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    limit: int = 100


def parse_duration(text: str, *, forever: bool = False) -> timedelta | None:
    """``10m``, ``2h``, ``1d``, ``1h30m`` (s, m, h, d, w); ``forever`` (None) when allowed.
    Raises InvalidInput."""
    word = text.strip().lower()
    if forever and word in FOREVER_WORDS:
        return None
    if not _DURATION.fullmatch(word):
        also = " or 'forever'" if forever else ""
        raise InvalidInput(f"A duration looks like 30s, 10m, 2h, 1d or 1h30m{also}.")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(word))
    if seconds <= 0:
        raise InvalidInput("A duration must be longer than nothing.")
    duration = timedelta(seconds=seconds)
    if duration > MAX_DURATION:
        raise InvalidInput("A duration can be at most 3650 days.")
    return duration


def describe(span: timedelta) -> str:
    """A short human span: '2d 3h', '9m 58s', '1s' (at most two units, rounded up)."""
    seconds = max(1, int(span.total_seconds() + 0.999))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def check_may_sanction(actor: Role, target: Role, *, same_account: bool) -> None:
    """A moderator acts only on those below them, never on their own account. Raises Forbidden."""
    if same_account:
        raise Forbidden("You cannot do that to yourself.")
    if not actor.outranks(target):
        article = "an" if target.value[0] in "aeiou" else "a"
        raise Forbidden(f"You cannot do that to {article} {target.value}.")


def clean_text(text: str, limit: int, what: str) -> str:
    """``text`` on one line, within ``limit`` characters. Raises InvalidInput."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(text) > limit:
        raise InvalidInput(f"That {what} is too long (at most {limit} characters).")
    return text
