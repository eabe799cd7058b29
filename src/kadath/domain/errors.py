"""The one exception tree of Kadath. Expected failures carry the sentence a player reads.

KadathError
├── DomainError                  a rule said no; ``str(exc)`` is the player-facing sentence
│   ├── NotFound
│   │   ├── PlayerNotFound
│   │   ├── AccountNotFound
│   │   ├── RoomNotFound
│   │   ├── ItemNotFound
│   │   ├── ContainerNotFound
│   │   └── ProfessionNotFound
│   ├── InvalidInput             bad amounts, unknown stat fields, malformed names
│   │   ├── InvalidAmount
│   │   ├── InvalidName
│   │   └── UnknownStatField
│   ├── Conflict
│   │   ├── DuplicateName
│   │   ├── ItemMoved            the item is no longer where the caller saw it
│   │   └── ZoneMoved            another process owns the zone's state now (serve --cluster)
│   ├── ContainerFull
│   ├── ContainerLocked
│   ├── NotOwner
│   ├── NotAllowed
│   │   ├── Forbidden            the role is too low for that command or route
│   │   └── Sanctioned           muted, frozen or banned; the sentence gives the time left
│   ├── AuthenticationFailed     bad credentials, bad or expired token
│   └── RateLimited              too many attempts; try again later
│       └── Busy                 the server has too much of this work queued; try again shortly
└── InfrastructureError
    └── DatabaseUnavailable      the database could not be reached or refused the work
"""

from __future__ import annotations


class KadathError(Exception):
    """Root of every error Kadath raises on purpose."""


class DomainError(KadathError):
    """An expected refusal; the message is shown to the player as it is."""


class NotFound(DomainError):
    pass


class PlayerNotFound(NotFound):
    pass


class AccountNotFound(NotFound):
    pass


class RoomNotFound(NotFound):
    pass


class ItemNotFound(NotFound):
    pass


class ContainerNotFound(NotFound):
    pass


class ProfessionNotFound(NotFound):
    pass


class InvalidInput(DomainError):
    pass


class InvalidAmount(InvalidInput):
    pass


class InvalidName(InvalidInput):
    pass


class UnknownStatField(InvalidInput):
    pass


class Conflict(DomainError):
    pass


class DuplicateName(Conflict):
    pass


class ItemMoved(Conflict):
    pass


class ZoneMoved(Conflict):
    """A write of a zone's state refused: this process no longer holds the zone (its lease
    was lost, or a newer owner's epoch is recorded). Nothing of the write was stored."""

    def __init__(self, text: str = "The world is reorganising; try again in a moment.") -> None:
        super().__init__(text)


class ContainerFull(DomainError):
    pass


class ContainerLocked(DomainError):
    pass


class NotOwner(DomainError):
    pass


class NotAllowed(DomainError):
    pass


class Forbidden(NotAllowed):
    pass


class Sanctioned(NotAllowed):
    pass


class AuthenticationFailed(DomainError):
    pass


class RateLimited(DomainError):
    pass


class Busy(RateLimited):
    pass


class InfrastructureError(KadathError):
    """Something below the game failed; players see a generic line, operators the log."""


class DatabaseUnavailable(InfrastructureError):
    pass
