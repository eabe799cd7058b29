"""``kadath serve --cluster``: today's whole server (HTTP, REST, WebSocket, telnet, the game) on
PostgreSQL, joined to a cluster: it holds zones through a lease manager, as ``kadath engine``
does, and serves a player's connection where the player's zone is held, relaying it over a
NATS tunnel (``kadath.cluster.tunnel``) when that is another process.

Routing happens after the hello: a connection for a character whose zone this process holds,
or who is in play here already (a reconnect), is served here as in one process; else it is
relayed to the zone's holder. A character who walks into a zone held elsewhere is handed over
(``handover``) and routed again; so is one whose holder was lost (failover, ``_drive``).
``who``, ``whisper`` and ``broadcast`` reach every process (``directory``), and so do
channels (``channels``), moderation (``moderation``: sanctions, roles, kicks, reports) and
world reloads (``reload``); docs/scaling.md says what is not built yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kadath.bootstrap import start_runtime
from kadath.cluster.channels import ClusterChannels
from kadath.cluster.config import ClusterConfig
from kadath.cluster.directory import ClusterDirectory
from kadath.cluster.errors import ClusterUnreachable, Fenced
from kadath.cluster.failover import (
    NOT_DONE,
    Lost,
    Owed,
    answers,
    failover_bound,
    failover_frames,
)
from kadath.cluster.fencing import check_schema, confirm, highest_epoch
from kadath.cluster.leases import (
    NATS_FAILURES,
    ZoneLeaseManager,
    advance_epochs,
    connect,
    open_bucket,
    open_pins,
)
from kadath.cluster.moderation import ClusterModeration
from kadath.cluster.placement import MOVED_CLOSE, MOVED_REASON, Placed, follows, moved, place
from kadath.cluster.reload import ClusterReload
from kadath.cluster.tunnel import (
    LocalTransport,
    Numbering,
    Tunnel,
    TunnelTransport,
    open_subject,
    reorganising,
    serve_tunnel,
)
from kadath.domain.errors import KadathError, ZoneMoved
from kadath.domain.player import Player
from kadath.persistence.engine import create_engine
from kadath.realtime.connection import Relay as RunRelay
from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import CLOSE_NORMAL, CLOSE_REPLACED
from kadath.realtime.session import Session
from kadath.realtime.transport import Transport, TransportClosed
from kadath.settings import Settings
from kadath.startup import StartupPhases
from kadath.web.app import build_app
from kadath.web.runtime import Runtime

log = structlog.get_logger(__name__)
REPLACED_ELSEWHERE = "You have connected from elsewhere; this one closes."


def cluster_app(
    settings: Settings, config: ClusterConfig, phases: StartupPhases, *, hold_zones: bool = True
) -> FastAPI:
    """The ASGI app of ``kadath serve --cluster``; of ``kadath gateway`` with ``hold_zones``
    False."""
    return build_app(lambda: cluster_runtime(settings, config, phases, hold_zones=hold_zones))


@contextlib.asynccontextmanager
async def cluster_runtime(
    settings: Settings, config: ClusterConfig, phases: StartupPhases, *, hold_zones: bool = True
) -> AsyncIterator[Runtime]:
    """The one-process runtime, then the node on top of it; the node stops first. A node that
    does not ``hold_zones`` (a gateway) relays every connection to the zone's holder."""
    if settings.secret_key is None:
        log.warning(
            "cluster_signing_key_from_data_dir",
            data_dir=str(settings.data_dir),
            hint="every process must check the others' tokens: set one KADATH_SECRET_KEY for "
            "all of them, or share this data directory's secret_key file",
        )
    async with start_runtime(settings, phases, zones=()) as runtime:
        node = ClusterNode(config, runtime, hold_zones=hold_zones)
        try:
            await node.start()
        except BaseException:
            await node.stop()
            raise
        runtime.connections.router = node.route
        runtime.connections.handover = node.handover
        runtime.game.chat.elsewhere = node.directory
        # One copy of a character in play across the cluster: each load claims it.
        runtime.entry.claims = {}
        runtime.entry.claimed = node.directory.claimed
        runtime.channels.elsewhere = node.channels
        runtime.moderation.moderation.elsewhere = node.moderation
        runtime.moderation.reports.elsewhere = node.moderation
        runtime.moderation.roles.elsewhere = node.moderation
        runtime.moderation.grants.elsewhere = node.moderation
        runtime.reloader.elsewhere = node.reload
        # Stays after the node stops: a zone given back is not written here any more.
        runtime.persistence.fence = node.fence
        try:
            yield runtime
        finally:
            runtime.game.chat.elsewhere = None
            runtime.entry.claimed = None  # the claims stay: the shutdown save is fenced by them
            runtime.channels.elsewhere = None
            runtime.moderation.moderation.elsewhere = None
            runtime.moderation.reports.elsewhere = None
            runtime.moderation.roles.elsewhere = None
            runtime.moderation.grants.elsewhere = None
            runtime.reloader.elsewhere = None
            runtime.connections.router = None
            runtime.connections.handover = None
            # Everyone is saved while this process still holds their zones (the fence refuses
            # a save after the zones are given back); the runtime's own shutdown finds no one.
            try:
                await runtime.hub.shutdown()  # bounded; safe to call again
            except Exception:
                log.exception("cluster_shutdown_save_failed")
            await node.stop()


class ClusterNode:
    """Holds zones (leases, renewals, pins), listens on each held zone's ``open`` subject,
    and routes connections (``ConnectionHandler.router``). With ``hold_zones`` False (``kadath
    gateway``) it never takes a lease nor listens on an ``open`` subject: its lease manager
    holds nothing, so every connection is relayed to a holder."""

    def __init__(self, config: ClusterConfig, runtime: Runtime, *, hold_zones: bool = True) -> None:
        self.config = config
        self.hold_zones = hold_zones
        self._runtime = runtime
        self._database: AsyncEngine | None = None
        self._nc: Client | None = None
        self._manager: ZoneLeaseManager | None = None
        self._listening: dict[str, Subscription] = {}
        self._stop = asyncio.Event()
        self._holding: asyncio.Task[None] | None = None
        self._tunnels: set[asyncio.Task[None]] = set()
        self._directory: ClusterDirectory | None = None
        self._channels: ClusterChannels | None = None
        self._moderation: ClusterModeration | None = None
        self._reload: ClusterReload | None = None

    def _zones(self) -> list[str]:
        """The world's zones as of now: a ``reload world`` may have added some, which are
        then taken at the next renewal period like any free zone."""
        return sorted(self._runtime.game.world.zones)

    @property
    def nc(self) -> Client:
        assert self._nc is not None, "not started"
        return self._nc

    @property
    def directory(self) -> ClusterDirectory:
        assert self._directory is not None, "not started"
        return self._directory

    @property
    def channels(self) -> ClusterChannels:
        assert self._channels is not None, "not started"
        return self._channels

    @property
    def moderation(self) -> ClusterModeration:
        assert self._moderation is not None, "not started"
        return self._moderation

    @property
    def reload(self) -> ClusterReload:
        assert self._reload is not None, "not started"
        return self._reload

    @property
    def manager(self) -> ZoneLeaseManager:
        assert self._manager is not None, "not started"
        return self._manager

    async def start(self) -> None:
        """Connect, take the free zones once (so they are held when the server listens),
        then keep them in the background."""
        config = self.config
        self._database = create_engine(config.database_url, pool_size=2, max_overflow=2)
        await check_schema(self._database)
        self._nc = await connect(config, f"kadath-serve {config.engine_id}")
        try:
            kv = await open_bucket(self.nc, config)
            pins = await open_pins(self.nc, config)
            if self.hold_zones:  # a gateway takes no epochs, so it never moves the stream
                await advance_epochs(self.nc, config, await highest_epoch(self._database))
            self._directory = ClusterDirectory(
                self.nc,
                config.engine_id,
                self._runtime.game.chat,
                kv,
                self._zones(),
                claimed_elsewhere=self._claimed_elsewhere,
            )
            await self._directory.start()
            self._channels = ClusterChannels(self.nc, config.engine_id, self._runtime.channels)
            await self._channels.start()
            feature = self._runtime.moderation
            self._moderation = ClusterModeration(
                self.nc,
                config.engine_id,
                feature.moderation,
                feature.reports,
                feature.grants,
                self._directory,
            )
            await self._moderation.start()
            self._reload = ClusterReload(self.nc, config.engine_id, self._runtime.reloader)
            await self._reload.start()
        except NATS_FAILURES as exc:
            raise ClusterUnreachable(f"NATS at {config.nats_url}: {exc!r}") from exc
        self._manager = ZoneLeaseManager(
            kv,
            owner=config.engine_id,
            lease_seconds=config.lease_seconds,
            renew_seconds=config.renew_seconds,
            confirm=functools.partial(confirm, self._database),
            on_lost=self._lost,
            pins=pins,
            census=self._census,
            before_release=self._store_before_release,
        )
        if self.hold_zones:
            await self._step()
            self._holding = asyncio.create_task(self._hold(), name="cluster-zones")
        log.info(
            "cluster_node_started",
            node=config.engine_id,
            held=sorted(self.manager.held),
            holds_zones=self.hold_zones,
        )

    async def stop(self) -> None:
        """Stop taking zones, stop opening tunnels, give the zones back, disconnect."""
        self._stop.set()
        if self._holding is not None:
            await asyncio.gather(self._holding, return_exceptions=True)
        for zone in list(self._listening):
            await self._unlisten(zone)
        if self._directory is not None:
            await self._directory.stop()
        if self._channels is not None:
            await self._channels.stop()
        if self._moderation is not None:
            await self._moderation.stop()
        if self._reload is not None:
            await self._reload.stop()
        if self._manager is not None:
            await asyncio.shield(self.manager.release_all())
        for task in list(self._tunnels):
            task.cancel()
        await asyncio.gather(*self._tunnels, return_exceptions=True)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
        if self._database is not None:
            await self._database.dispose()
        log.info("cluster_node_stopped", node=self.config.engine_id)

    async def _hold(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.config.renew_seconds)
            if self._stop.is_set():
                return
            try:
                await self._step()
            except Exception:
                log.exception("cluster_step_failed")

    async def _step(self) -> None:
        """One renewal period: renew, follow pins, take free zones; then listen on exactly
        the zones held."""
        manager = self.manager
        await manager.renew_all()
        await manager.acquire_free(await manager.follow_pins(self._zones()))
        held = set(manager.held)
        game_zones = self._runtime.game.zones
        for zone in (game_zones.held or frozenset()) - held:
            await game_zones.drop(zone)  # released (a pin moved it): its NPCs and fights go
        for zone in held - (game_zones.held or frozenset()):
            await game_zones.take(zone)  # its NPCs come to life here
        for zone in set(self._listening) - held:
            await self._unlisten(zone)
        for zone in held - set(self._listening):
            try:
                self._listening[zone] = await self.nc.subscribe(open_subject(zone), cb=self._open)
            except NATS_FAILURES as exc:
                log.warning("zone_listen_failed", zone=zone, error=repr(exc))

    def _census(self) -> dict[str, tuple[int, int]]:
        """Players in play and NPCs alive here, per zone held (written into the leases)."""
        game = self._runtime.game
        rooms = game.world.rooms
        players = Counter(
            rooms[p.room_id].zone_id for p in game.presence.all() if p.room_id in rooms
        )
        npcs = Counter(rooms[n.room_id].zone_id for n in game.npcs.all() if n.room_id in rooms)
        return {zone: (players[zone], npcs[zone]) for zone in self.manager.held}

    async def _unlisten(self, zone: str) -> None:
        sub = self._listening.pop(zone, None)
        if sub is not None:
            with contextlib.suppress(*NATS_FAILURES):
                await sub.unsubscribe()

    async def fence(self, session: AsyncSession, zone: str) -> None:
        """``AsyncPersistenceLayer.fence``: a write of ``zone``'s state, inside its unit of
        work, records and locks this process's epoch, or raises ZoneMoved when the zone is
        not held here or a newer owner is recorded (the manager then drops it)."""
        try:
            await self.manager.fence(session, zone)
        except Fenced as exc:  # NotHeld too
            log.warning("zone_write_fenced", zone=zone, error=str(exc))
            raise ZoneMoved() from exc

    async def _store_before_release(self, zone: str) -> None:
        """A pin moves ``zone`` away: store where its players stand while it is still held
        here (fenced by this epoch), so the new holder loads their last steps, not the last
        periodic save. The save on leaving, at their next command, is refused by then."""
        await self._runtime.entry.save_positions()

    def _claimed_elsewhere(self, player_id: uuid.UUID, claim: int) -> None:
        """Another process loaded ``player_id`` into play under ``claim``: a copy in play here
        under an older claim leaves play now (its connection, if any, is told it connected from
        elsewhere); its save on leaving is refused by the newer claim."""
        claims = self._runtime.entry.claims
        mine = claims.get(player_id) if claims is not None else None
        if mine is None or mine >= claim:
            return
        log.info("player_claimed_elsewhere", player_id=str(player_id), claim=claim, mine=mine)
        self._runtime.hub.disconnect(player_id, REPLACED_ELSEWHERE, CLOSE_REPLACED)

    async def _lost(self, zone: str, epoch: int, reason: str) -> None:
        await self._unlisten(zone)
        await self._runtime.game.zones.drop(zone)

    # -- the holder's side -------------------------------------------------------------------
    async def _open(self, msg: Msg) -> None:
        """A relay asks this process to serve a connection in a zone it holds."""
        zone = msg.subject.split(".")[2]
        try:
            request = json.loads(msg.data)
            tunnel, remote, hello = request["tunnel"], request["remote"], request["hello"]
        except (ValueError, KeyError, TypeError):
            log.warning("tunnel_request_unreadable", zone=zone)
            return
        if zone not in self.manager.held or self._stop.is_set():
            await self._answer(msg, False)
            return
        url = place(request, self.config.public_url)
        if url is not None:  # the client follows: it comes here itself (no tunnel)
            log.info("tunnel_placed", tunnel=tunnel, zone=zone, url=url)
            with contextlib.suppress(*NATS_FAILURES):
                await msg.respond(json.dumps({"ok": False, "url": url}).encode())
            return
        transport = TunnelTransport(
            self.nc,
            str(tunnel),
            str(remote),
            str(hello),
            heartbeat=self.config.renew_seconds,
            silence=self.config.lease_seconds,
            relay=request.get("relay") if isinstance(request.get("relay"), str) else None,
        )
        await transport.start()
        task = asyncio.create_task(
            serve_tunnel(transport, self._runtime.connections.serve), name=f"tunnel-{tunnel}"
        )
        self._tunnels.add(task)
        task.add_done_callback(self._tunnels.discard)
        log.info("tunnel_opened", tunnel=tunnel, zone=zone)
        await self._answer(msg, True)

    async def _answer(self, msg: Msg, ok: bool) -> None:
        with contextlib.suppress(*NATS_FAILURES):
            await msg.respond(json.dumps({"ok": ok}).encode())

    # -- the relay's side -------------------------------------------------------------------
    async def route(self, transport: Transport, hello: str, player: Player) -> RunRelay | None:
        """``ConnectionHandler.router``: every client connection of this process is driven by
        ``_drive``; the sessions it runs here (on a ``LocalTransport``) and those relayed to us
        (``TunnelTransport``) are served as in one process."""
        if isinstance(transport, TunnelTransport | LocalTransport):
            return None
        room = self._runtime.game.world.rooms.get(player.room_id)
        zone = room.zone_id if room else ""
        here = (
            room is None
            or zone in self.manager.held
            or self._runtime.game.presence.get(player.id) is not None  # a reconnect
        )
        return functools.partial(
            self._drive, transport, hello, player.id, zone, here, follow=follows(hello)
        )

    async def _drive(
        self,
        client: Transport,
        hello: str,
        player_id: uuid.UUID,
        zone: str,
        here: bool,
        *,
        follow: bool = False,
    ) -> None:
        """Serve a client, here or through a tunnel to its zone's holder, and again after
        each hand-over, until the connection ends. When the holder is lost (silent, or nobody
        answers for the zone), fail over: keep the client, and route the character again
        (its zone read again from the database) until a process holds the zone, at most
        ``failover_bound`` (then "try again", 1013). A client that ``follow``s is sent to a
        holder with a public URL instead of relayed there (``kadath.cluster.placement``)."""
        numbering, replay = Numbering(), [hello]
        settings = self._runtime.settings
        bound = failover_bound(self.config.lease_seconds, self.config.renew_seconds)
        failing_since: float | None = None  # when the failover under way began
        delay = 0.0
        while True:
            if here:
                local = LocalTransport(client, replay, numbering)
                await self._runtime.connections.serve(local)
                if local.moving_to is None:
                    return
                zone, replay = local.moving_to, [hello, *local.unread()]
            else:
                tunnel = Tunnel(
                    self.nc,
                    client,
                    replay,
                    zone,
                    numbering,
                    heartbeat=self.config.renew_seconds,
                    silence=self.config.lease_seconds,
                    send_timeout=settings.send_timeout_seconds,
                    max_line=settings.max_line_length,
                    follow=follow,
                )
                outcome = await tunnel.run()
                if outcome is None:
                    return
                if isinstance(outcome, Placed):
                    await self._move(client, numbering, outcome.url, zone, player_id)
                    return
                if isinstance(outcome, Lost):
                    beginning = outcome.opened or failing_since is None
                    if failing_since is None or beginning:  # a failover begins: told once
                        failing_since, delay = time.monotonic(), 0.0
                        log.info("player_failing_over", player_id=str(player_id), zone=zone)
                    notice = beginning and numbering.greeted
                    if not await self._tell(client, numbering, failover_frames(outcome, notice)):
                        return
                    if outcome.opened:
                        replay = [hello]  # all it was sent is answered (or it never greeted)
                    if time.monotonic() - failing_since > bound or self._stop.is_set():
                        await self._give_up(client, numbering, replay, player_id)
                        return
                    delay = min(max(delay * 2, 0.2), self.config.renew_seconds)
                    await asyncio.sleep(delay)
                    zone = await self._zone_of(player_id, zone)
                else:
                    zone, unread = outcome
                    replay, failing_since = [hello, *unread], None
            here = zone in self.manager.held
            if here and failing_since is not None:
                log.info("player_failed_over", player_id=str(player_id), zone=zone)
                failing_since = None

    async def _tell(self, client: Transport, numbering: Numbering, frames: list[Delivery]) -> bool:
        """Send frames the relay makes itself; False if the client is gone."""
        batch = numbering.number(frames)
        if not batch:
            return True
        try:
            await asyncio.wait_for(
                client.send_frames(batch), self._runtime.settings.send_timeout_seconds
            )
        except TimeoutError:
            client.abort()
            return False
        except TransportClosed:
            return False
        return True

    async def _move(
        self, client: Transport, numbering: Numbering, url: str, zone: str, player_id: uuid.UUID
    ) -> None:
        """Send a following client to ``url``, where ``zone`` is held: ``moved``, then close.
        Nothing it sent and got no reply for was run (it sends that again there)."""
        log.info("player_placed", player_id=str(player_id), zone=zone, url=url)
        if await self._tell(client, numbering, [(0, Outgoing(moved(url, zone)))]):
            with contextlib.suppress(TransportClosed):
                await client.close(MOVED_CLOSE, MOVED_REASON)

    async def _give_up(
        self, client: Transport, numbering: Numbering, replay: list[str], player_id: uuid.UUID
    ) -> None:
        """No process took the zone in time: refuse what no holder was sent (the commands of
        ``replay`` after the hello), then "try again" and 1013."""
        log.warning("player_failover_failed", player_id=str(player_id))
        owed = Owed(self._runtime.settings.max_line_length)
        for text in replay[1:]:
            owed.ask(text)
        if await self._tell(client, numbering, answers(owed.ids, owed.pings, NOT_DONE)):
            await reorganising(client, numbering.sent + 1)

    async def _zone_of(self, player_id: uuid.UUID, zone: str) -> str:
        """The zone of the character's room as stored (``zone`` if it cannot be read)."""
        try:
            stored = await self._runtime.persistence.get_player_by_id(player_id)
        except KadathError as exc:
            log.info("failover_lookup_failed", player_id=str(player_id), error=repr(exc))
            return zone
        room = self._runtime.game.world.rooms.get(stored.room_id)
        return room.zone_id if room is not None else zone

    async def handover(self, session: Session) -> bool:
        """``ConnectionHandler.handover``, after each command: a character who now stands in a
        zone this process does not hold leaves play here (saved in its new room) and its
        session ends once flushed, without closing the client: the process the client is
        connected to routes it again (``_drive``; through a tunnel, ``M`` tells it)."""
        transport = session.transport
        if not isinstance(transport, TunnelTransport | LocalTransport):
            return False
        player = self._runtime.game.presence.get(session.player_id)
        room = self._runtime.game.world.rooms.get(player.room_id) if player else None
        if player is None or room is None or room.zone_id in self.manager.held:
            return False
        transport.moving_to = room.zone_id
        try:
            await self._runtime.entry.leave(player.id)
        except KadathError:
            # Out of play here all the same; the new holder loads the last position saved.
            log.exception("handover_save_failed", player_id=str(player.id))
        session.close(CLOSE_NORMAL, "handed over")
        log.info("player_handed_over", player_id=str(player.id), zone=room.zone_id)
        return True
