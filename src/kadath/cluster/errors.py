"""The cluster's typed errors."""

from __future__ import annotations


class ClusterError(Exception):
    """Root of the cluster package's errors."""


class ClusterRefused(ClusterError):
    """The settings cannot run a cluster role; the message says what to set."""


class ClusterUnreachable(ClusterError):
    """NATS or PostgreSQL could not be reached at start-up."""


class Fenced(ClusterError):
    """A newer owner's epoch is recorded for the zone: this engine lost it and must not write."""

    def __init__(self, zone: str, epoch: int, recorded: int | None) -> None:
        self.zone, self.epoch, self.recorded = zone, epoch, recorded
        super().__init__(
            f"zone {zone!r}: epoch {epoch} is fenced off (epoch {recorded} is recorded)"
        )


class NotHeld(Fenced):
    """This engine does not hold the zone (never took it, released or dropped it)."""

    def __init__(self, zone: str) -> None:
        ClusterError.__init__(self, f"zone {zone!r} is not held by this engine")
        self.zone, self.epoch, self.recorded = zone, 0, None
