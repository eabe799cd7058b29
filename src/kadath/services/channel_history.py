"""The recent messages of each channel: kept in memory for ``history``, written behind.

Messages said are queued and stored by ``flush`` (a periodic task the lifespan owns, and once
more at shutdown): one insert for the batch and one trim per channel, in one transaction, so
saying something never waits on the database. A crash loses at most the last interval.

In a cluster each process keeps the lines said on the others too (``remember``: in memory,
in the order they were said, not stored again), so ``history`` reads the same everywhere."""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Callable

import structlog

from kadath.domain.channel import CHANNELS, HISTORY_KEPT, ChannelMessage
from kadath.services.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)
FLUSH_SECONDS = 1.0


class ChannelHistory:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        reading: Callable[[], UnitOfWork],
        kept: int = HISTORY_KEPT,
    ) -> None:
        self._uow, self._reading, self._kept = uow, reading, kept
        self._recent: dict[str, deque[ChannelMessage]] = {
            c.name: deque(maxlen=kept) for c in CHANNELS
        }
        # Not yet stored; older ones than ``kept`` per channel would be trimmed anyway.
        self._pending: dict[str, deque[ChannelMessage]] = {
            c.name: deque(maxlen=kept) for c in CHANNELS
        }
        self._writing = asyncio.Lock()

    async def load(self) -> int:
        """Read what the database kept (start-up); returns how many messages."""
        async with self._reading() as uow:
            for channel, recent in self._recent.items():
                recent.clear()
                recent.extend(await uow.channels.recent_messages(channel, self._kept))
        return sum(len(r) for r in self._recent.values())

    def add(self, message: ChannelMessage) -> None:
        self._recent[message.channel].append(message)
        self._pending[message.channel].append(message)

    def remember(self, message: ChannelMessage) -> None:
        """Keep a line said on another process (which stores it), in the order of the time it
        was said: lines from two processes may arrive out of that order."""
        recent = self._recent[message.channel]
        if not recent or recent[-1].sent_at <= message.sent_at:
            recent.append(message)
            return
        ordered = list(recent)
        at = bisect.bisect_right([m.sent_at for m in ordered], message.sent_at)
        if at == 0 and len(ordered) == recent.maxlen:
            return  # older than everything kept
        ordered.insert(at, message)
        recent.clear()
        recent.extend(ordered)  # the oldest falls off when full

    def recent(self, channel: str, count: int) -> list[ChannelMessage]:
        """The newest ``count`` messages of ``channel``, oldest first."""
        recent = self._recent[channel]
        return list(recent)[-count:] if count > 0 else []

    @property
    def unsaved(self) -> int:
        return sum(len(p) for p in self._pending.values())

    async def flush(self) -> int:
        """Store what was said since the last flush and trim each channel to the last
        ``kept``; returns how many were stored. On failure they stay queued for the next.
        A cancelled caller does not cut a write short (it would be stored twice), and a flush
        waits for the one in flight (so the last one at shutdown stores everything)."""
        return await asyncio.shield(self._flush())

    async def _flush(self) -> int:
        async with self._writing:
            return await self._write_pending()

    async def _write_pending(self) -> int:
        batch = {c: list(p) for c, p in self._pending.items() if p}
        if not batch:
            return 0
        async with self._uow() as uow:
            await uow.channels.append_messages([m for sent in batch.values() for m in sent])
            for channel in batch:
                await uow.channels.trim(channel, self._kept)
        for channel, sent in batch.items():
            pending = self._pending[channel]  # more may have come (or pushed some out) since
            for message in sent:
                if pending and pending[0] is message:
                    pending.popleft()
        return sum(len(s) for s in batch.values())
