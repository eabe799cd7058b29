"""World reloads across the processes of a cluster (``WorldReloader.elsewhere``), over NATS
core.

Every process holds the world in memory. A ``reload world`` that succeeded on one process is
published on ``kadath.cluster.world.reload`` (``{"from"}``); every other process then reloads
the same files (``WorldReloader.reload_as_told``: validated as at start-up, applied in one
loop turn, its players of removed rooms moved to safety, without placing again what new rooms
hold: the first process did, in the shared database). So every process must read the same
world files (one directory, or identical copies). A process whose files are refused keeps its
world and logs ``world_reload_refused``. At most once, as NATS core delivers.

Each reload runs in a task this adapter owns (cancelled at ``stop``); reloads queue on the
reloader's lock, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kadath.cluster.leases import NATS_FAILURES, settled
from kadath.domain.errors import InvalidInput
from kadath.services.world_reload import WorldReloader

log = structlog.get_logger(__name__)
RELOAD_SUBJECT = "kadath.cluster.world.reload"
MAX_QUEUED = 4  # reloads asked for while others run: more would reload the same files again


class ClusterReload:
    """Tells the other processes of a reload made here, and reloads when they tell of one."""

    def __init__(self, nc: Client, node: str, reloader: WorldReloader) -> None:
        self._nc, self._node, self._reloader = nc, node, reloader
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(RELOAD_SUBJECT, cb=self._hear)
        await settled(self._nc)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def reloaded(self) -> None:
        try:
            await self._nc.publish(RELOAD_SUBJECT, json.dumps({"from": self._node}).encode())
        except NATS_FAILURES as exc:
            log.warning("cluster_reload_publish_failed", error=repr(exc))

    async def _hear(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("from") == self._node:
            return
        if len(self._tasks) >= MAX_QUEUED:
            log.warning("cluster_reload_skipped", origin=body.get("from"), queued=len(self._tasks))
            return
        task = asyncio.create_task(self._reload(str(body.get("from"))), name="cluster-reload")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reload(self, origin: str) -> None:
        try:
            await self._reloader.reload_as_told()
        except InvalidInput:
            log.warning("cluster_reload_refused", origin=origin)  # the reloader logged why
        except Exception:
            log.exception("cluster_reload_failed", origin=origin)
        else:
            log.info("cluster_reload_done", origin=origin)
