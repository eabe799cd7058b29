"""Channels across the processes of a cluster (``ChannelService.elsewhere``), over NATS core.

A line said on a channel is delivered by the speaker's process to its own characters on the
channel, kept in its history (which it stores), then published on
``kadath.cluster.channel.<channel>``: ``{"from", "channel", "sender_id", "sender", "text",
"at"}`` (``at``: ISO 8601, when it was said). Every process subscribes to
``kadath.cluster.channel.*`` and, for a line from another process, delivers it to its own
characters on the channel who have not muted it and do not ignore the speaker (their settings
and ignores are loaded where they are in play) and keeps it in its history without storing it.
A process's own lines come back to it from NATS and are dropped (``from``), so nobody reads a
line twice. At most once, as NATS core delivers: a process cut off from NATS at that moment
misses the line (its history lacks it until it restarts and reads the database).

The speaker's process checks everything about the speaker (on the channel, not muted there,
not muted by a moderator, the rate limits) and cleans the text.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kadath.cluster.leases import NATS_FAILURES, settled
from kadath.domain.channel import ChannelMessage
from kadath.domain.errors import NotFound
from kadath.services.channels import ChannelService

log = structlog.get_logger(__name__)
CHANNEL_SUBJECT = "kadath.cluster.channel"  # + ".<channel>"


class ClusterChannels:
    """Tells the other processes the lines said here (``ChannelsElsewhere``) and delivers
    theirs."""

    def __init__(self, nc: Client, node: str, channels: ChannelService) -> None:
        self._nc, self._node, self._channels = nc, node, channels
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{CHANNEL_SUBJECT}.*", cb=self._hear)
        await settled(self._nc)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    async def said(self, message: ChannelMessage) -> None:
        body = {
            "from": self._node,
            "channel": message.channel,
            "sender_id": None if message.sender_id is None else str(message.sender_id),
            "sender": message.sender,
            "text": message.text,
            "at": message.sent_at.isoformat(),
        }
        try:
            subject = f"{CHANNEL_SUBJECT}.{message.channel}"
            await self._nc.publish(subject, json.dumps(body).encode())
        except NATS_FAILURES as exc:
            log.warning("cluster_channel_publish_failed", channel=message.channel, error=repr(exc))

    async def _hear(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            if body["from"] == self._node:
                return
            message = _message(body)
        except (ValueError, KeyError, TypeError):
            log.warning("cluster_channel_unreadable", subject=msg.subject)
            return
        try:
            self._channels.heard(message)
        except NotFound:
            log.warning("cluster_channel_unknown", channel=message.channel)


def _message(body: dict[str, Any]) -> ChannelMessage:
    """The line a published body carries. Raises ValueError, KeyError, TypeError."""
    at = datetime.fromisoformat(str(body["at"]))
    if at.tzinfo is None:
        raise ValueError("a time without its zone")
    sender_id = body["sender_id"]
    return ChannelMessage(
        str(body["channel"]),
        None if sender_id is None else uuid.UUID(str(sender_id)),
        str(body["sender"]),
        str(body["text"]),
        at,
    )
