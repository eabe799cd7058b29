"""ChannelRepository: characters' settings on channels, and each channel's recent messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kadath.domain.channel import ChannelMessage, Membership
from kadath.persistence.dialect import upsert
from kadath.persistence.models import ChannelMembershipRow, ChannelMessageRow


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def memberships(self, player_id: uuid.UUID) -> list[Membership]:
        """The settings a character changed from the channels' defaults."""
        rows = await self._session.scalars(
            sa.select(ChannelMembershipRow).where(ChannelMembershipRow.player_id == player_id)
        )
        return [Membership(r.channel, r.joined, r.muted) for r in rows]

    async def save_membership(self, player_id: uuid.UUID, membership: Membership) -> None:
        """Store one setting (one upsert)."""
        table = ChannelMembershipRow.__table__
        stmt = upsert(self._session, table, ["player_id", "channel"], ["joined", "muted"])  # type: ignore[arg-type]
        await self._session.execute(
            stmt.values(
                player_id=player_id,
                channel=membership.channel,
                joined=membership.joined,
                muted=membership.muted,
            )
        )

    async def append_messages(self, messages: Sequence[ChannelMessage]) -> None:
        """Store messages in the order given (one executemany insert)."""
        if not messages:
            return
        await self._session.execute(
            sa.insert(ChannelMessageRow),
            [
                {
                    "channel": m.channel,
                    "sender_id": m.sender_id,
                    "sender": m.sender,
                    "text": m.text,
                    "sent_at": m.sent_at,
                }
                for m in messages
            ],
        )

    async def trim(self, channel: str, keep: int) -> int:
        """Delete all but the newest ``keep`` messages of ``channel``; returns how many went."""
        row = ChannelMessageRow
        oldest_kept = (
            sa.select(row.id)
            .where(row.channel == channel)
            .order_by(row.id.desc())
            .offset(keep - 1)
            .limit(1)
            .scalar_subquery()
        )
        result = await self._session.execute(
            sa.delete(row).where(row.channel == channel, row.id < oldest_kept)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def recent_messages(self, channel: str, limit: int) -> list[ChannelMessage]:
        """The newest ``limit`` messages of ``channel``, oldest first."""
        row = ChannelMessageRow
        rows = await self._session.scalars(
            sa.select(row).where(row.channel == channel).order_by(row.id.desc()).limit(limit)
        )
        return [
            ChannelMessage(r.channel, r.sender_id, r.sender, r.text, r.sent_at)
            for r in reversed(list(rows))
        ]
