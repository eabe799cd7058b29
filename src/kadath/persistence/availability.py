"""Whether the database answers: an outage begins at the first failure that means it is out of
reach and ends at the next connection that works; each edge is logged once, not per failure."""

from __future__ import annotations

import time

import structlog

log = structlog.get_logger(__name__)


class DatabaseAvailability:
    """Up or in an outage; ``outages`` counts how many began since start-up."""

    def __init__(self) -> None:
        self.up = True
        self.outages = 0
        self.failures = 0  # failures during the current (or last) outage
        self._since = 0.0

    def lost(self, error: BaseException) -> None:
        """A unit of work or a ping found the database out of reach."""
        self.failures += 1
        if not self.up:
            return
        self.up = False
        self.outages += 1
        self.failures = 1
        self._since = time.monotonic()
        # No traceback: the cause is a sentence, and this may come in a burst of failures.
        log.warning("database_unavailable", error=f"{type(error).__name__}: {error}"[:300])

    def answered(self) -> None:
        """A connection was checked out and works (after the pool's pre-ping)."""
        if self.up:
            return
        self.up = True
        log.warning(
            "database_recovered",
            outage_seconds=round(time.monotonic() - self._since, 1),
            failures=self.failures,
        )
