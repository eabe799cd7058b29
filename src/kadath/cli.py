"""The ``kadath`` command: serve the game (alone, or as a cluster's gateway or engine), manage
the database schema and the cluster's zones."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kadath.startup import StartupPhases

if TYPE_CHECKING:
    from kadath.cluster.config import ClusterConfig
    from kadath.settings import Settings

# Each subcommand imports what it needs when it runs: ``kadath serve`` never loads Alembic or
# the database checker, and ``kadath db`` never loads uvicorn or FastAPI.


def __getattr__(name: str) -> Any:
    """``kadath.cli.KadathServer``, imported only when asked for (see kadath.server)."""
    if name == "KadathServer":
        from kadath.server import KadathServer

        return KadathServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    phases: StartupPhases | None = None,
    cluster: ClusterConfig | None = None,
    *,
    gateway: bool = False,
) -> None:
    """Import the server (uvicorn, FastAPI, the game) and run it until stopped; joined to a
    cluster when ``cluster`` is given (``kadath serve --cluster``), holding no zones when
    ``gateway`` (``kadath gateway``)."""
    phases = phases or StartupPhases()
    try:
        from kadath.lazy_packages import defer_serve_packages

        defer_serve_packages()  # no uvicorn CLI, no telnet client in a serving process
        from kadath.server import serve as run_server

        if cluster is None:
            phases.mark("imports")
            run_server(settings, host, port, phases)
            return
        from kadath.cluster.serve import cluster_app

        phases.mark("imports")
        hold_zones = not gateway
        run_server(
            settings,
            host,
            port,
            phases,
            lambda s, p: cluster_app(s, cluster, p, hold_zones=hold_zones),
        )
    finally:
        gc.enable()


def cluster_serve_config(
    settings: Settings, command: str = "serve --cluster"
) -> ClusterConfig | None:
    """``kadath serve --cluster``'s (or ``gateway``'s) settings; None (with the reason on
    stderr) when refused."""
    from kadath.cluster.config import cluster_config
    from kadath.cluster.errors import ClusterRefused

    try:
        return cluster_config(settings)
    except ClusterRefused as exc:
        print(f"kadath {command}: {exc}", file=sys.stderr)
        return None


async def _db(settings: Settings, action: str, revision: str) -> str:
    from kadath.persistence import migrate
    from kadath.persistence.engine import create_engine

    engine = create_engine(settings.resolved_database_url())
    try:
        if action == "upgrade":
            await migrate.upgrade(engine, revision)
        elif action == "downgrade":
            await migrate.downgrade(engine, revision)
        return str(await migrate.current_revision(engine))
    finally:
        await engine.dispose()


async def _check(settings: Settings) -> int:
    """``kadath db check``: print each broken invariant; 1 if any, else 0 and a summary."""
    from kadath.persistence.check import check_database
    from kadath.persistence.engine import create_engine
    from kadath.world import DEFAULT_WORLD_DIR, load_world

    world = await asyncio.to_thread(load_world, settings.world_dir or DEFAULT_WORLD_DIR)
    engine = create_engine(settings.resolved_database_url(), pool_size=1, max_overflow=0)
    try:
        snapshot, violations = await check_database(engine, world)
    finally:
        await engine.dispose()
    for violation in violations:
        print(violation)
    if violations or snapshot is None:
        print(f"{len(violations)} problem(s) found", file=sys.stderr)
        return 1
    print(f"database OK: {snapshot.summary()}")
    return 0


def check_world_files(directory: Path) -> int:
    """Load the world as at start-up: a summary and 0, or each problem and 1."""
    from kadath.world import WorldFileError
    from kadath.world.loader import check_world

    try:
        print(check_world(directory))
    except WorldFileError as exc:
        print(f"The world files in {directory} are refused:\n{exc}", file=sys.stderr)
        return 1
    return 0


ENGINE_HELP = (
    "join the cluster (KADATH_NATS_URL, PostgreSQL), hold zones and run their players, NPCs and "
    "commands: take unowned zones, renew their leases, release them on SIGTERM. No listeners: "
    "players reach it through gateways (docs/scaling.md)"
)
GATEWAY_HELP = (
    "join the cluster (KADATH_NATS_URL, PostgreSQL) as a gateway: HTTP, REST, WebSocket and "
    "telnet as `serve`, holding no zone; every player is relayed to the engine holding the "
    "player's zone (docs/scaling.md)"
)


def add_cluster_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gateway = sub.add_parser("gateway", help=GATEWAY_HELP, description=GATEWAY_HELP)
    gateway.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    gateway.add_argument("--port", type=int, help="port to listen on (default 8000)")
    sub.add_parser("engine", help=ENGINE_HELP, description=ENGINE_HELP)
    zones = sub.add_parser(
        "zones",
        help="list each zone's owner and fencing epoch (NATS, PostgreSQL); pin, unpin or move "
        "a zone",
    )
    zones.add_argument(
        "action", nargs="?", default="list", choices=["list", "pin", "unpin", "move"]
    )
    zones.add_argument("zone", nargs="?", help="pin/unpin/move: the zone")
    zones.add_argument(
        "engine", nargs="?", help="pin/move: the engine (KADATH_ENGINE_ID) to hold it"
    )


def cluster_command(
    settings: Settings, args: argparse.Namespace, parser: argparse.ArgumentParser
) -> int:
    """``kadath engine`` and ``kadath zones``: 2 when the settings, the schema or the arguments
    are refused, 1 when NATS or PostgreSQL cannot be reached or a move did not happen."""
    if args.command == "zones" and args.action != "list" and not args.zone:
        parser.error(f"zones {args.action} needs a zone")
    if args.command == "zones" and args.action in ("pin", "move") and not args.engine:
        parser.error(f"zones {args.action} needs a zone and an engine: ZONE ENGINE")
    from kadath.cluster.config import cluster_config
    from kadath.cluster.errors import ClusterError, ClusterRefused
    from kadath.logs import configure_logging
    from kadath.world import DEFAULT_WORLD_DIR, WorldFileError, load_world

    try:
        config = cluster_config(settings)
        world = load_world(settings.world_dir or DEFAULT_WORLD_DIR)
        if args.command == "engine":
            from kadath.cluster.engine import run_engine

            logs = configure_logging(settings.log_level, json=settings.log_json)
            try:
                asyncio.run(run_engine(config, settings))
            finally:
                logs.stop()
            return 0
        from kadath.cluster.zones import format_statuses, move, move_bound, pin, zone_statuses

        zones = sorted(world.zones)
        if args.action == "list":
            print(format_statuses(asyncio.run(zone_statuses(config, zones))))
            return 0
        if args.action == "move":
            moved = asyncio.run(move(config, zones, args.zone, args.engine, move_bound(config)))
            print(f"zone {args.zone} moved to {args.engine} (epoch {moved.epoch})")
            return 0
        engine = args.engine if args.action == "pin" else None
        asyncio.run(pin(config, zones, args.zone, engine))
        print(f"zone {args.zone} " + (f"pinned to {engine}" if engine else "unpinned"))
        return 0
    except ClusterError as exc:
        print(f"kadath {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ClusterRefused) else 1
    except WorldFileError as exc:
        print(f"kadath {args.command}: the world files are refused:\n{exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    phases = StartupPhases(since_process_start=True)
    phases.mark("interpreter")  # Python's own start and the CLI's imports
    parser = argparse.ArgumentParser(prog="kadath", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the game server")
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default 8000)")
    run.add_argument(
        "--cluster",
        action="store_true",
        help="join the cluster (KADATH_NATS_URL, PostgreSQL) as a gateway and an engine in one: "
        "hold zones and serve each player from the process that holds the player's zone "
        "(docs/scaling.md)",
    )
    db = sub.add_parser("db", help="manage the database schema")
    db.add_argument("action", choices=["upgrade", "downgrade", "current", "check"])
    db.add_argument("revision", nargs="?", default="head")
    world = sub.add_parser("world", help="check the world files")
    world.add_argument("action", choices=["check"])
    world.add_argument("directory", nargs="?", type=Path, help="default: the configured world")
    add_cluster_commands(sub)
    args = parser.parse_args(argv)
    if args.command in ("serve", "gateway"):
        # Start-up builds objects that live as long as the process and makes little garbage:
        # collecting while importing and wiring is wasted work (~10 % of the import CPU).
        # The server freezes what start-up built and turns the collector back on when it
        # listens (kadath.server.settle_garbage_collector).
        gc.disable()
    from kadath.settings import Settings

    settings = Settings()
    phases.mark("settings")  # pydantic-settings, and reading the environment
    if args.command == "world":
        from kadath.world import DEFAULT_WORLD_DIR

        return check_world_files(args.directory or settings.world_dir or DEFAULT_WORLD_DIR)
    if args.command == "serve":
        cluster = cluster_serve_config(settings) if args.cluster else None
        if args.cluster and cluster is None:
            return 2
        serve(settings, args.host, args.port, phases, cluster)
        return 0
    if args.command == "gateway":
        cluster = cluster_serve_config(settings, "gateway")
        if cluster is None:
            return 2
        serve(settings, args.host, args.port, phases, cluster, gateway=True)
        return 0
    if args.command in ("engine", "zones"):
        return cluster_command(settings, args, parser)
    if args.action == "check":
        return asyncio.run(_check(settings))
    if args.action == "downgrade" and args.revision == "head":
        parser.error("downgrade needs a revision, e.g. 'base'")
    revision = asyncio.run(_db(settings, args.action, args.revision))
    print(f"database at revision {revision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
