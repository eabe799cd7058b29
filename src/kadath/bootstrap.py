"""The composition root: the one place that builds concrete classes and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI

from kadath.commands.admin_world import admin_world_commands
from kadath.commands.base import Command, CommandTable, Dispatcher
from kadath.commands.building import building_commands
from kadath.commands.install_channels import install_channels
from kadath.commands.install_combat import install_combat
from kadath.commands.install_items import install_items
from kadath.commands.install_moderation import install_moderation
from kadath.commands.table import build_command_table
from kadath.domain.account import Account
from kadath.domain.corpse import CorpseRules
from kadath.domain.errors import DatabaseUnavailable, KadathError
from kadath.domain.moderation import SanctionKind
from kadath.domain.player import Player
from kadath.domain.ratelimit import parse_rate
from kadath.domain.rng import RandomRng
from kadath.npc.install import install_npcs
from kadath.persistence import migrate
from kadath.persistence.layer import AsyncPersistenceLayer
from kadath.realtime.connection import ConnectionHandler, ConnectionLimits
from kadath.realtime.hub import SAVE_WITHIN, Hub
from kadath.services.auth import AuthService, PasswordHasher, TokenIssuer
from kadath.services.building import Builder
from kadath.services.burial import Undertaker
from kadath.services.carried import CarriedItems
from kadath.services.channel_history import FLUSH_SECONDS
from kadath.services.characters import CharacterService
from kadath.services.chat import ChatService
from kadath.services.clock import SystemClock
from kadath.services.combat import CombatService
from kadath.services.entry import WorldEntry
from kadath.services.events import LocalEventBus
from kadath.services.game import Game
from kadath.services.game_loop import GameLoop
from kadath.services.held_zones import HeldZones
from kadath.services.ignores import IgnoreService
from kadath.services.movement import MovementService
from kadath.services.npc_roster import NpcRoster
from kadath.services.presence import Presence
from kadath.services.rooms import RoomDescriber
from kadath.services.world_reload import ReloadPorts, WorldReloader, WorldViews
from kadath.settings import Settings
from kadath.startup import StartupPhases
from kadath.web.app import build_app
from kadath.web.runtime import Runtime
from kadath.world import DEFAULT_WORLD_DIR, load_world

if TYPE_CHECKING:
    from kadath.domain.world import World

log = structlog.get_logger(__name__)
POSITION_SAVE_SECONDS = 5.0
SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


def create_app(settings: Settings | None = None, phases: StartupPhases | None = None) -> FastAPI:
    """The ASGI app for ``settings`` (read from the environment when not given); its start-up
    phases are timed into ``phases`` (a fresh clock when not given)."""
    resolved = settings or Settings()
    return build_app(lambda: start_runtime(resolved, phases or StartupPhases()))


def load_or_create_secret(data_dir: Path) -> str:
    """The JWT signing secret stored in the data directory, created on first run (mode 0600)."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


class BackgroundTasks:
    """Tasks the lifespan owns: started once, cancelled and awaited at shutdown."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, seconds: float, name: str, work: Callable[[], Awaitable[object]]) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await work()
                except DatabaseUnavailable:
                    log.debug("periodic_task_skipped_database_unavailable", task=name)
                except Exception:
                    log.exception("periodic_task_failed", task=name)

        self.start(name, loop())

    def start(self, name: str, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))
        self._tasks[-1].set_name(name)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


@contextlib.asynccontextmanager
async def start_runtime(
    settings: Settings, phases: StartupPhases | None = None, *, zones: Iterable[str] | None = None
) -> AsyncIterator[Runtime]:
    """Open the database, load the world, build the game; on exit save everyone and close.
    Each step's time goes into ``phases`` (``runtime.startup_phases``). ``zones``: the zones
    whose NPCs, fights and per-zone steps run at start (``game.zones``); None, every zone
    always (one process); a cluster node passes none and takes zones as it wins them."""
    phases = phases or StartupPhases()
    world = await asyncio.to_thread(load_world, settings.world_dir or DEFAULT_WORLD_DIR)
    phases.mark("world")
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    if secret is None:
        secret = await asyncio.to_thread(load_or_create_secret, settings.data_dir)
    phases.mark("signing_key")
    persistence = await _open_persistence(settings, world, phases)
    hasher = PasswordHasher(
        settings.password_hash_threads,
        settings.argon2_time_cost,
        settings.argon2_memory_cost,
        queue=settings.password_hash_queue,
    )
    tasks = BackgroundTasks()
    runtime = _wire(settings, persistence, hasher, secret, zones)
    runtime.hub.entry = runtime.entry
    runtime.startup_phases = phases.ms
    phases.mark("wiring")
    await runtime.entry.bury_the_fallen()  # deaths a crash or an older version left unfinished
    await _load_sanctions(runtime)  # mutes and freezes outlive a restart
    professions = await persistence.get_all_professions()
    runtime.game.professions.update({p.id: p.name for p in professions})
    await runtime.channel_history.load()
    phases.mark("restore")
    tasks.every(POSITION_SAVE_SECONDS, "save-positions", runtime.entry.save_positions)
    tasks.every(FLUSH_SECONDS, "channel-history", runtime.channel_history.flush)
    tasks.start("game-loop", runtime.loop.run())
    log.info("kadath_started", rooms=len(world.rooms), database=persistence.engine.dialect.name)
    try:
        await _first_tick(runtime.loop)
        phases.mark("first_tick")
        await _start_telnet(runtime, tasks)
        phases.mark("telnet")
        yield runtime
    finally:
        await _shutdown(runtime, tasks, hasher)


async def _open_persistence(
    settings: Settings, world: World, phases: StartupPhases
) -> AsyncPersistenceLayer:
    """Connect; migrate only when the schema is behind (one query says so); seed the world."""
    persistence = await AsyncPersistenceLayer.open(
        settings.resolved_database_url(),
        world,
        migrate_schema=False,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        echo=settings.db_echo,
    )
    try:
        behind = not await migrate.is_at_head(persistence.engine)
        phases.mark("database")  # connect, and one query for the schema's revision
        if behind:
            await _migrate(settings, persistence)
        phases.mark("migrations")
        await persistence.seed_world()
        phases.mark("seeding")
    except BaseException:
        await persistence.close()
        raise
    return persistence


async def _migrate(settings: Settings, persistence: AsyncPersistenceLayer) -> None:
    """Alembic in a child process (it never loads here); in this one only for an in-memory
    SQLite database, which no other process sees. Raises MigrationFailed."""
    url = settings.resolved_database_url()
    if migrate.can_migrate_apart(url):
        await migrate.upgrade_apart(url, statement_timeout_ms=settings.db_statement_timeout_ms)
    else:
        await migrate.upgrade(persistence.engine)


async def _first_tick(loop: GameLoop, within: float = 5.0) -> None:
    """Wait (briefly) until the game loop has run its first tick."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            await loop.ticked.wait()


def _wire(
    settings: Settings,
    persistence: AsyncPersistenceLayer,
    hasher: PasswordHasher,
    secret: str,
    zones: Iterable[str] | None = None,
) -> Runtime:
    world = persistence.world
    clock, rng, bus = SystemClock(), RandomRng(), LocalEventBus()
    presence, npcs = Presence(), NpcRoster()
    hub = Hub(presence, settings.reconnect_grace_seconds)
    uow = persistence.unit_of_work
    ignores = IgnoreService(presence, uow, persistence.reading)
    ignores.subscribe(bus)
    game = Game(
        world=world,
        presence=presence,
        npcs=npcs,
        messenger=hub,
        bus=bus,
        clock=clock,
        rng=rng,
        uow=uow,
        reading=persistence.reading,
        rooms=RoomDescriber(world, presence, npcs, persistence.reading, rng),
        # A cluster node: a walk's writes are fenced by the zone served in, each its own unit
        # of work, not coalesced across zones by ``first_visits``.
        movement=MovementService(
            world, presence, hub, bus, uow, persistence.first_visits if zones is None else None
        ),
        chat=ChatService(presence, hub, bus, ignores=ignores),
        started_at=time.monotonic(),
    )
    game.zones = HeldZones(world, zones)
    tokens = TokenIssuer(secret, timedelta(minutes=settings.access_token_minutes), clock)
    auth = AuthService(
        uow,
        hasher,
        tokens,
        clock,
        reading=persistence.reading,
        registration=settings.registration,
        login_rate=settings.login_rate_limit,
        registration_rate=settings.registration_rate_limit,
    )
    characters = CharacterService(
        uow, persistence.reading, presence, rng, clock, lambda: world.start_room_id
    )
    corpse_rules = CorpseRules(settings.corpse_owner_grace_seconds, settings.corpse_decay_seconds)
    entry = WorldEntry(world, presence, hub, bus, uow, Undertaker(corpse_rules, clock))
    entry.runs_room = game.zones.runs_room
    if zones is not None:  # a cluster node: the save on leaving is fenced by the zone served in
        presence.runs_room = game.zones.runs_room
    loop = GameLoop(settings.tick_rate)
    persistence.room_listeners.append(game.rooms.forget)
    moderation = install_moderation(game, hub)
    channels = install_channels(game, ignores, can_speak=lambda p: game.mutes.check(p.id))
    extra = [*moderation.commands, *channels.commands]
    table, combat, reloader = _install_features(
        settings, game, loop, corpse_rules, persistence, *extra
    )
    dispatcher = Dispatcher(table, game)

    async def authorize(token: str, name: str) -> tuple[Account, Player]:
        account = await auth.authenticate(token)
        return account, await characters.by_name(account, name)

    burst, rate = parse_rate(settings.command_rate)
    limits = ConnectionLimits(
        max_line=settings.max_line_length,
        commands_per_second=rate,
        burst=burst * 2,
        send_timeout=settings.send_timeout_seconds,
        unauthenticated_per_address=settings.unauthenticated_connections_per_ip,
    )
    connections = ConnectionHandler(hub, entry, dispatcher, authorize, limits)
    return Runtime(
        settings=settings,
        persistence=persistence,
        game=game,
        auth=auth,
        characters=characters,
        hub=hub,
        entry=entry,
        dispatcher=dispatcher,
        connections=connections,
        loop=loop,
        combat=combat,
        reloader=reloader,
        moderation=moderation,
        channel_history=channels.history,
        channels=channels.channels,
    )


async def _load_sanctions(runtime: Runtime) -> None:
    game = runtime.game
    async with game.reading() as uow:
        sanctions = await uow.moderation.in_force(game.clock.now())
    game.sanctions.load(s for s in sanctions if s.kind is not SanctionKind.BAN)
    async with game.reading() as uow:
        game.grants.load(await uow.grants.all())  # zone grants outlive a restart


async def _start_telnet(runtime: Runtime, tasks: BackgroundTasks) -> None:
    """Listen for MUD clients (unless ``telnet_port`` is 0); the listener is a task ``tasks``
    owns, so shutdown closes it after the Hub has told every player."""
    settings = runtime.settings
    if not settings.telnet_port:
        return
    # telnetlib3 (and its character tables) is imported only when telnet is on.
    from kadath.telnet.server import TelnetListener, TelnetOptions

    options = TelnetOptions(
        host=settings.telnet_host,
        port=settings.telnet_port,
        max_line=settings.max_line_length,
        login_timeout=settings.telnet_login_timeout,
        idle_timeout=settings.telnet_idle_timeout,
        write_timeout=settings.telnet_write_timeout,
        connections_per_ip=settings.telnet_connections_per_ip,
        negotiation_wait=settings.telnet_negotiation_wait,
    )
    carried = CarriedItems(runtime.game.world, runtime.persistence.reading)
    telnet = TelnetListener(
        options,
        runtime.auth,
        runtime.characters,
        runtime.connections,
        runtime.dispatcher.table,
        carried.of,
    )
    await telnet.start()
    runtime.telnet_port = telnet.port
    runtime.telnet_connections = telnet.open_connections
    tasks.start("telnet", telnet.run())


def _install_features(
    settings: Settings,
    game: Game,
    loop: GameLoop,
    corpse_rules: CorpseRules,
    persistence: AsyncPersistenceLayer,
    *extra: Command,
) -> tuple[CommandTable, CombatService, WorldReloader]:
    """Install items, NPCs, combat and building on ``game`` and ``loop`` and wire them to
    each other; returns the command table (with ``extra`` commands), the combat service and
    the world reloader."""
    npcs = install_npcs(game, loop, spawning=settings.npc_spawning)
    fights = install_combat(
        game,
        loop,
        corpse_rules,
        npc_flee=npcs.brain.flee,
        round_seconds=settings.combat_round_seconds,
    )
    # The one cycle: combat makes a hurt NPC flee, and the brain starts fights.
    npcs.brain.combat = fights.combat
    items = install_items(game, fights.corpses.guard)
    items.inventory.gear_listeners.append(fights.combat.gear_changed)
    views = WorldViews()
    views.refreshers += [
        persistence.room_cache.rebuild,
        npcs.territory.rebuild,
        npcs.spawner.reload_rules,
        game.rooms.forget_all,
    ]
    world_dir = settings.world_dir or DEFAULT_WORLD_DIR
    builder = Builder(game.world, world_dir, views.refresh, game.uow, game.grants)

    async def count_items(prototypes: Sequence[str]) -> dict[str, int]:
        async with persistence.reading() as uow:
            return await uow.items.count_by_prototype(prototypes)

    async def count_in_rooms(rooms: Sequence[str]) -> int:
        async with persistence.reading() as uow:
            return await uow.items.count_in_rooms(rooms)

    ports = ReloadPorts(count_items, count_in_rooms, persistence.seed_world, npcs.spawner.despawn)
    reloader = WorldReloader(game, world_dir, views, ports)
    table = build_command_table(
        *items.commands,
        *npcs.commands,
        *fights.commands,
        *admin_world_commands(loop, fights.combat, fights.death),
        *building_commands(builder, reloader),
        *extra,
        examine=items.inventory.examine,
    )
    return table, fights.combat, reloader


async def _flush_history(runtime: Runtime) -> None:
    """Store the channel messages said since the last periodic flush."""
    try:
        async with asyncio.timeout(SAVE_WITHIN):
            await runtime.channel_history.flush()
    except (TimeoutError, KadathError):
        log.exception("channel_history_not_saved", messages=runtime.channel_history.unsaved)


async def _shutdown(runtime: Runtime, tasks: BackgroundTasks, hasher: PasswordHasher) -> None:
    log.info("kadath_stopping", players=len(runtime.game.presence))
    try:
        await runtime.hub.shutdown()  # saves everyone, then tells them; bounded
        await tasks.stop()
        await _flush_history(runtime)
        async with asyncio.timeout(SAVE_WITHIN):
            await runtime.entry.leave_all()  # anyone whose hello was mid-way when closing began
    except TimeoutError:
        log.exception("shutdown_save_timed_out", seconds=SAVE_WITHIN)
    finally:
        hasher.close()
        await runtime.persistence.close()
