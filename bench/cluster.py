"""What one world on many processes costs and carries (issue 11, docs/scaling.md "Performance
and capacity"): CPU per command and per delivered frame, per role, NATS messages and bytes per
command, throughput, reply latency, and whether every command was answered exactly once.

    KADATH_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        python3 -m uv run --frozen python bench/cluster.py --players 200,1000 --json out.json
    python3 -m uv run --frozen python bench/cluster.py --quick          # 20 players, 5 s each

Starts a private ``nats-server -js`` (free port, own store, monitoring on another free port), a
uniquely named PostgreSQL database on ``--postgres``'s server (dropped at the end), and for each
configuration real ``kadath serve`` / ``kadath serve --cluster`` subprocesses (zones pinned):

- ``single``: one plain ``kadath serve`` (no NATS);
- ``g1e1``: two ``--cluster`` processes, every zone pinned to the engine, every client connected
  to the gateway (it holds no zone, so it relays everyone): 1 gateway + 1 engine;
- ``split2``: two ``--cluster`` processes holding half the zones each (by rooms), every client
  connected to one of them: a share ``--relayed`` (default 1/2, what a balancer blind to zones
  gives) to the process that does *not* hold its character's zone;
- ``g2e2``: 2 gateways (no zones; clients alternate between them) + 2 engines (half the zones
  each): every client relayed;
- ``split4``: four processes, one zone each, clients relayed with share ``--relayed`` (3/4).
- ``place2``, ``place4``: ``split2`` and ``split4`` with placement (protocol 4): every process
  advertises its URL (``KADATH_PUBLIC_URL``) and every client says ``follow``, so a client
  connected to the wrong process (the same share as ``--relayed``) is sent (``moved``) to the
  holder and plays there; walking into another process's zone moves it again.

The characters are made once (over REST) and walked once to their own target rooms (round
robin over the world's rooms, as bench/load.py does), so every configuration starts from the
same positions (saved in PostgreSQL). Each player then sends 1 command a second (``--rate``;
bench/load.py's default mix: look, say, walk, emote, score, who, help, explored) on a jittered
open-loop schedule for ``--warmup`` + ``--duration`` seconds. Measured in the window: replies
per second; reply latency (send → the ``reply`` whose ``re`` matches) p50/p99/max; frames
delivered to clients; the CPU of every server process, of nats-server and of the PostgreSQL
backends serving the database (utime + stime from /proc); NATS messages and bytes (``/varz``
``in_msgs``/``out_msgs``/``in_bytes``/``out_bytes``). Before the load, with everyone connected
and silent, 5 s of idle CPU and NATS traffic (heartbeats, renewals). After it, every reply must
have come exactly once (a second reply to an id, or none within ``--drain`` seconds of the end,
is counted), and every connection's ``seq`` must run 1, 2, 3… without a gap or repeat (no frame
lost, hand-overs included). Players walk, so some cross zones and are handed over mid-run.

Prints a table (and ``--json FILE``). The exit status is 1 when a command went unanswered or
was answered twice, a frame was lost, or a player was disconnected; no speed is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from websockets.exceptions import WebSocketException

from cluster_parts import Node, cpu_seconds, migrated_database, private_nats
from kadath.cluster.config import ClusterConfig
from kadath.cluster.zones import pin, zone_statuses
from kadath.world import DEFAULT_WORLD_DIR, load_world
from load import (
    DEFAULT_MIX,
    Bot,
    Recorder,
    admin_token,
    loadavg,
    log,
    parse_mix,
    route,
    server_profile_top,
    setup_players,
    summarize_ms,
    world_map,
)

WORLD = load_world(DEFAULT_WORLD_DIR)
ZONES = sorted(WORLD.zones)
ZONE_OF = {room.id: room.zone_id for room in WORLD.rooms.values()}
LEASE_SECONDS, RENEW_SECONDS = 15.0, 5.0  # the defaults
IDLE_SECONDS = 5.0
CONFIG_NAMES = ("single", "g1e1", "split2", "g2e2", "split4", "place2", "place4")
PLACED = ("place2", "place4")  # as split2/split4, with public URLs and following clients


# -- configurations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Role:
    name: str
    zones: tuple[str, ...]  # pinned to it
    entry: bool  # clients connect to it

    @property
    def kind(self) -> str:
        if not self.zones:
            return "gateway"
        return "both" if self.entry else "engine"


def split_zones(parts: int) -> list[tuple[str, ...]]:
    """The zones in ``parts`` groups of about as many rooms each (largest zone first)."""
    rooms = Counter(ZONE_OF.values())
    groups: list[list[str]] = [[] for _ in range(parts)]
    for zone in sorted(ZONES, key=lambda z: (-rooms[z], z)):
        min(groups, key=lambda g: sum(rooms[z] for z in g)).append(zone)
    return [tuple(sorted(g)) for g in groups]


def roles_of(config: str) -> list[Role]:
    everything = tuple(ZONES)
    if config == "single":
        return [Role("serve", everything, True)]
    if config == "g1e1":
        return [Role("engine", everything, False), Role("gateway", (), True)]
    if config in ("split2", "place2"):
        a, b = split_zones(2)
        return [Role("a", a, True), Role("b", b, True)]
    if config == "g2e2":
        a, b = split_zones(2)
        return [
            Role("engine-1", a, False),
            Role("engine-2", b, False),
            Role("gateway-1", (), True),
            Role("gateway-2", (), True),
        ]
    if config in ("split4", "place4"):
        return [Role(f"p{i + 1}", zones, True) for i, zones in enumerate(split_zones(4))]
    raise ValueError(config)


def entry_for(index: int, zone: str, roles: list[Role], relayed: float | None) -> int:
    """Which role a player's client connects to. Gateways take turns; where every process holds
    zones, a share ``relayed`` (default: 1 - 1/processes, a balancer blind to zones) goes to a
    process that does not hold the player's zone, the rest to the holder."""
    entries = [i for i, r in enumerate(roles) if r.entry]
    if all(roles[i].kind == "gateway" for i in entries) or len(entries) == 1:
        return entries[index % len(entries)]
    share = 1 - 1 / len(entries) if relayed is None else relayed
    holder = next(i for i in entries if zone in roles[i].zones)
    others = [i for i in entries if i != holder]
    # A low-discrepancy sequence: exactly round(share × n) of any n consecutive players.
    if math.floor((index + 1) * share) > math.floor(index * share):
        return others[index % len(others)]
    return holder


# -- the client ----------------------------------------------------------------------------------
class CheckedBot(Bot):
    """bench/load.py's player, which also checks every frame's ``seq`` (1, 2, 3… on the one
    connection, hand-overs included) and counts replies that answer nothing pending."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_seq = 0  # on this connection (a move's new one starts again at 1)
        self.seq_faults = 0
        self.stray_replies = 0
        # A refusal that comes after connect() gave up waiting is nobody's business.
        self.welcomed.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _new_connection(self) -> None:
        self.last_seq = 0

    def _on_frame(self, raw: str, now: float) -> None:
        parsed = json.loads(raw)
        for frame in parsed if isinstance(parsed, list) else [parsed]:
            seq = frame.get("seq")
            if seq is not None:
                if seq != self.last_seq + 1:
                    self.seq_faults += 1
                self.last_seq = int(seq)
            self._on_parsed(str(frame.get("type")), frame, now)

    def _on_parsed(self, kind: str, frame: dict[str, Any], now: float) -> None:
        if kind == "reply" and str(frame.get("re")) not in self.pending:
            self.stray_replies += 1
        super()._on_parsed(kind, frame, now)


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Mark:
    at: float
    cpu: dict[str, float | None]  # role name → CPU seconds; "nats", "postgres", "client"
    varz: dict[str, int]


@dataclass
class Meter:
    """Reads CPU of the processes, of the database's PostgreSQL backends, and NATS counters."""

    pids: dict[str, int]
    nats: Any  # PrivateNats
    database: str
    postgres_url: str
    backends: dict[int, float] = field(default_factory=dict)

    async def postgres_pids(self) -> list[int]:
        import asyncpg  # type: ignore[import-untyped]

        url = self.postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        conn = await asyncpg.connect(url, timeout=10)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
            )
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]

    async def mark(self) -> Mark:
        pg_pids = await self.postgres_pids()
        at = time.perf_counter()
        cpu: dict[str, float | None] = {k: cpu_seconds(p) for k, p in self.pids.items()}
        cpu["nats"] = cpu_seconds(self.nats.pid)
        cpu["client"] = cpu_seconds(os.getpid())
        # Backends come and go with the pools: sum what each backend seen has spent so far
        # (a backend that ended between two marks takes its last reading with it).
        for pid in pg_pids:
            spent = cpu_seconds(pid)
            if spent is not None:
                self.backends[pid] = spent
        cpu["postgres"] = sum(self.backends.values())
        varz = await self.nats.varz()
        keys = ("in_msgs", "out_msgs", "in_bytes", "out_bytes")
        return Mark(at, cpu, {k: int(varz.get(k, 0)) for k in keys})


def deltas(a: Mark, b: Mark) -> tuple[float, dict[str, float], dict[str, int]]:
    cpu = {
        k: (b.cpu[k] or 0.0) - (a.cpu[k] or 0.0)
        for k in a.cpu
        if a.cpu[k] is not None and b.cpu.get(k) is not None
    }
    return b.at - a.at, cpu, {k: b.varz[k] - a.varz[k] for k in a.varz}


# -- one run -------------------------------------------------------------------------------------
@dataclass
class Setup:
    args: argparse.Namespace
    database_url: str
    database: str
    nats: Any  # PrivateNats
    root: Path
    made: list[tuple[str, str]] = field(default_factory=list)  # (token, name)
    spread: set[str] = field(default_factory=set)  # characters walked to their target room


def cluster_config(setup: Setup) -> ClusterConfig:
    return ClusterConfig(
        database_url=setup.database_url,
        nats_url=setup.nats.url,
        engine_id="bench",
        lease_seconds=LEASE_SECONDS,
        renew_seconds=RENEW_SECONDS,
        bucket="kadath_zones",
    )


async def start_nodes(setup: Setup, config: str, roles: list[Role]) -> list[Node]:
    """The configuration's processes, zones pinned, holders first; checked to hold them."""
    nodes: list[Node] = []
    cluster = config != "single"
    names = {role.name: f"{config}-{role.name}" for role in roles}
    if cluster:
        for role in roles:
            for zone in role.zones:
                await pin(cluster_config(setup), ZONES, zone, names[role.name])
    for role in sorted(roles, key=lambda r: not r.zones):
        node = Node(
            names[role.name],
            setup.database_url,
            setup.nats.url if cluster else None,
            setup.root,
            KADATH_ZONE_LEASE_SECONDS=str(LEASE_SECONDS),
            KADATH_ZONE_RENEW_SECONDS=str(RENEW_SECONDS),
        )
        if config in PLACED:
            node.env["KADATH_PUBLIC_URL"] = node.ws_url
        if role.name in setup.args.profile:
            node.cprofile = setup.root / f"{node.name}.prof"
        nodes.append(node)
        await node.start()
    if cluster:
        wanted = {z: names[r.name] for r in roles for z in r.zones}
        deadline = time.monotonic() + 60
        while True:
            owners = {s.zone: s.owner for s in await zone_statuses(cluster_config(setup), ZONES)}
            if all(owners.get(z) == o for z, o in wanted.items()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{config}: zones not held as pinned: {owners}")
            await asyncio.sleep(0.5)
    by_name = {n.name: n for n in nodes}
    return [by_name[names[r.name]] for r in roles]


async def character_rooms(setup: Setup) -> dict[str, str]:
    import asyncpg

    url = setup.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch("SELECT name, room_id FROM players")
    finally:
        await conn.close()
    return {str(r["name"]): str(r["room_id"]) for r in rows}


async def connect_all(
    bots: list[CheckedBot], urls: list[str], setup: Setup
) -> tuple[list[CheckedBot], Counter[str]]:
    args = setup.args
    world = world_map()
    targets = sorted(world[1]) if world else []
    gate = asyncio.Semaphore(args.connect_concurrency)
    failures: Counter[str] = Counter()

    async def one(bot: CheckedBot, url: str) -> CheckedBot | None:
        async with gate:
            try:
                await bot.connect(url, None, args.reply_timeout)
                if world is not None and bot.name not in setup.spread:
                    path = route(world[1], bot.room, targets[bot.index % len(targets)])
                    await bot.spread(path, 0, args.reply_timeout)
                    setup.spread.add(bot.name)
                return bot
            except (OSError, TimeoutError, ConnectionError, WebSocketException) as exc:
                failures[type(exc).__name__] += 1
                await bot.close()
                return None

    done = await asyncio.gather(*(one(b, u) for b, u in zip(bots, urls, strict=True)))
    return [b for b in done if b is not None], failures


async def run_config(setup: Setup, config: str, players: int) -> dict[str, Any]:
    args = setup.args
    roles = roles_of(config)
    log(f"{config}, {players} players: starting {len(roles)} process(es)")
    nodes = await start_nodes(setup, config, roles)
    rec = Recorder(reply_timeout=args.reply_timeout)
    bots: list[CheckedBot] = []
    try:
        if not setup.made:
            async with httpx2.AsyncClient(
                base_url=nodes[0].base_url, timeout=60, trust_env=False
            ) as http:
                await admin_token(http, "cb")  # the first account is an admin: not a player
                setup.made, made_report = await setup_players(http, max(args.players), 1, 32, "cb")
            log(f"characters: {made_report}")
        rooms = await character_rooms(setup)
        mix = parse_mix(args.mix)
        bots = [
            CheckedBot(i, name, token, rec, mix, args.seed)
            for i, (token, name) in enumerate(setup.made[:players])
        ]
        for bot in bots:
            bot.follow = config in PLACED
        entries = [
            entry_for(i, ZONE_OF.get(rooms.get(b.name, ""), ""), roles, args.relayed)
            for i, b in enumerate(bots)
        ]
        relayed_at_start = sum(
            1
            for b, e in zip(bots, entries, strict=True)
            if ZONE_OF.get(rooms.get(b.name, ""), "") not in roles[e].zones
        )
        log(f"{config}: connecting {len(bots)} players ({relayed_at_start} relayed)")
        connect_started = time.perf_counter()
        bots, failures = await connect_all(bots, [nodes[e].ws_url for e in entries], setup)
        connect_seconds = time.perf_counter() - connect_started
        meter = Meter(
            {r.name: n.pid for r, n in zip(roles, nodes, strict=True)},
            setup.nats,
            setup.database,
            args.postgres,
        )
        await asyncio.sleep(1.0)
        idle_a = await meter.mark()
        await asyncio.sleep(IDLE_SECONDS)
        idle_b = await meter.mark()
        log(
            f"{config}: load, {len(bots)} players at {args.rate}/s, {args.warmup}+{args.duration} s"
        )
        begin = time.perf_counter()
        rec.window_start = begin + args.warmup
        rec.window_end = rec.window_start + args.duration
        marks: dict[str, Mark] = {}

        async def mark_window() -> None:
            await asyncio.sleep(rec.window_start - time.perf_counter())
            marks["start"] = await meter.mark()
            await asyncio.sleep(rec.window_end - time.perf_counter())
            marks["end"] = await meter.mark()

        marker = asyncio.create_task(mark_window())
        try:
            await asyncio.gather(*(b.open_loop(args.rate, begin, rec.window_end) for b in bots))
            await marker
        finally:
            marker.cancel()
        deadline = time.perf_counter() + args.drain
        while any(b.pending for b in bots) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        unanswered_in_window = sum(
            1 for b in bots for sent, _ in b.pending.values() if rec.in_window(sent)
        )
        result = {
            "config": config,
            "players": players,
            "processes": [
                {"role": r.name, "kind": r.kind, "zones": list(r.zones), "entry": r.entry}
                for r in roles
            ],
            "connected": len(bots),
            "connect_failures": dict(failures),
            "connect_seconds": round(connect_seconds, 1),
            "relayed_at_connect": relayed_at_start,
            "moves": sum(b.moves for b in bots),  # placement: reconnections to a holder
            "unanswered": sum(len(b.pending) for b in bots),
            "unanswered_in_window": unanswered_in_window,
            # on connections still open at the end (not closed by the server, e.g. "try again")
            "unanswered_open": sum(len(b.pending) for b in bots if b.alive),
            "stray_replies": sum(b.stray_replies for b in bots),
            "seq_faults": sum(b.seq_faults for b in bots),
            "disconnects": rec.disconnects,
            "error_frames": dict(rec.error_codes),
            "refused_replies": dict(rec.refused),
            "late_replies": rec.timeouts,
            "sent_in_window": rec.sent,
        }
        result.update(figures(rec, roles, idle_a, idle_b, marks["start"], marks["end"], args))
        return result
    finally:
        gate = asyncio.Semaphore(200)

        async def close(bot: CheckedBot) -> None:
            async with gate:
                await bot.close()

        await asyncio.gather(*(close(b) for b in bots))
        for node in reversed(nodes):
            code = await node.stop()
            if code not in (0, -15, None):  # uvicorn ends by re-raising SIGTERM
                log(f"{node.name} exited {code}: {node.warnings()}")
            if node.cprofile is not None and node.cprofile.exists():
                top = server_profile_top(node.cprofile, limit=25)["by_tottime"]
                print(f"-- {node.name}: cProfile, by own time (the whole run, set-up included)")
                for row in top:
                    print(f"{row['tottime_s']:8.3f} s {row['calls']:>9} {row['function'][-110:]}")


def figures(
    rec: Recorder,
    roles: list[Role],
    idle_a: Mark,
    idle_b: Mark,
    start: Mark,
    end: Mark,
    args: argparse.Namespace,
) -> dict[str, Any]:
    seconds, cpu, nats = deltas(start, end)
    idle_seconds, idle_cpu, idle_nats = deltas(idle_a, idle_b)
    commands = rec.replies_in_window
    frames = sum(rec.frames.values())
    ms = 1000.0 / commands if commands else math.nan
    kinds = {r.name: r.kind for r in roles}
    servers = sum(cpu.get(r.name, 0.0) for r in roles)
    by_kind: dict[str, float] = {}
    for name, kind in kinds.items():
        by_kind[kind] = by_kind.get(kind, 0.0) + cpu.get(name, 0.0)
    # Net of the idle rate (everyone connected and silent: game loop, renewals, heartbeats),
    # the marginal cost of a command; the fixed cost is "idle".
    net = {k: v - idle_cpu.get(k, 0.0) / idle_seconds * seconds for k, v in cpu.items()}
    net_servers = sum(net.get(r.name, 0.0) for r in roles)
    net_by_kind: dict[str, float] = {}
    for name, kind in kinds.items():
        net_by_kind[kind] = net_by_kind.get(kind, 0.0) + net.get(name, 0.0)
    net_nats = {k: v - idle_nats.get(k, 0) / idle_seconds * seconds for k, v in nats.items()}
    return {
        "window_s": round(seconds, 2),
        "replies_in_window": commands,
        "replies_per_s": round(commands / seconds, 1),
        "latency_ms": summarize_ms(rec.latencies),
        "frames_per_command": round(frames / commands, 2) if commands else None,
        "cpu_ms_per_command": {
            "servers": round(servers * ms, 3),
            **{kind: round(v * ms, 3) for kind, v in by_kind.items()},
            **{f"process {k}": round(cpu.get(k, 0.0) * ms, 3) for k in kinds},
            "nats": round(cpu.get("nats", 0.0) * ms, 3),
            "servers_and_nats": round((servers + cpu.get("nats", 0.0)) * ms, 3),
            "postgres": round(cpu.get("postgres", 0.0) * ms, 3),
            "client": round(cpu.get("client", 0.0) * ms, 3),
        },
        "net_cpu_ms_per_command": {
            "servers": round(net_servers * ms, 3),
            **{kind: round(v * ms, 3) for kind, v in net_by_kind.items()},
            "nats": round(net.get("nats", 0.0) * ms, 3),
            "servers_and_nats": round((net_servers + net.get("nats", 0.0)) * ms, 3),
        },
        "net_nats_per_command": {
            k: round(v / commands, 2) if commands else None for k, v in net_nats.items()
        },
        "cpu_us_per_frame": {
            "servers_and_nats": round((servers + cpu.get("nats", 0.0)) * 1e6 / frames, 1)
            if frames
            else None,
        },
        "cpu_percent": {k: round(100 * v / seconds, 1) for k, v in cpu.items()},
        "nats_per_command": {
            k: round(v / commands, 2) if commands else None for k, v in nats.items()
        },
        "nats_per_s": {k: round(v / seconds, 1) for k, v in nats.items()},
        "idle": {
            "cpu_percent": {k: round(100 * v / idle_seconds, 2) for k, v in idle_cpu.items()},
            "nats_per_s": {k: round(v / idle_seconds, 1) for k, v in idle_nats.items()},
        },
        "offered_per_s": round(len(rec.schedule_lag) / seconds, 1) if rec.schedule_lag else None,
        "rate": args.rate,
    }


# -- the report ----------------------------------------------------------------------------------
def faults(result: dict[str, Any]) -> list[str]:
    found = []
    for key in ("unanswered", "stray_replies", "seq_faults", "disconnects"):
        if result.get(key):
            found.append(f"{key} {result[key]}")
    if result["connected"] < result["players"]:
        found.append(f"connected {result['connected']}/{result['players']}")
    return found


def table(results: Sequence[dict[str, Any]]) -> str:
    single = {r["players"]: r for r in results if r["config"] == "single"}
    head = (
        f"{'config':8} {'players':>7} {'relayed':>7} {'replies/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'max ms':>7} {'gw':>6} {'eng':>6} {'both':>6} {'nats':>6} {'total':>6} {'×1':>5}"
        f" {'net':>6} {'×1':>5}"
        f" {'pg':>5} {'msgs':>5} {'KB':>5} {'fr/cmd':>6} {'µs/fr':>5}  exactly once"
    )
    lines = [
        head,
        "CPU in ms per command (net: less the idle rate); NATS msgs and KB in+out per command",
        "-" * len(head),
    ]
    for r in results:
        cpu, lat, nats = r["cpu_ms_per_command"], r["latency_ms"], r["nats_per_command"]
        base = single.get(r["players"])
        ratio = (
            cpu["servers_and_nats"] / base["cpu_ms_per_command"]["servers"]
            if base and base["cpu_ms_per_command"]["servers"]
            else math.nan
        )
        net = r["net_cpu_ms_per_command"]["servers_and_nats"]
        net_base = base["net_cpu_ms_per_command"]["servers"] if base else math.nan
        net_ratio = net / net_base if net_base else math.nan
        msgs = (nats["in_msgs"] or 0) + (nats["out_msgs"] or 0)
        kbytes = ((nats["in_bytes"] or 0) + (nats["out_bytes"] or 0)) / 1000
        lines.append(
            f"{r['config']:8} {r['players']:>7} {r['relayed_at_connect']:>7}"
            f" {r['replies_per_s']:>9} {lat.get('p50', 'nan'):>7} {lat.get('p99', 'nan'):>7}"
            f" {lat.get('max', 'nan'):>7} {cpu.get('gateway', 0):>6.3f}"
            f" {cpu.get('engine', 0):>6.3f}"
            f" {cpu.get('both', 0):>6.3f} {cpu['nats']:>6.3f} {cpu['servers_and_nats']:>6.3f}"
            f" {ratio:>5.2f} {net:>6.3f} {net_ratio:>5.2f} {cpu['postgres']:>5.2f}"
            f" {msgs:>5.1f} {kbytes:>5.2f}"
            f" {r['frames_per_command']:>6} {r['cpu_us_per_frame']['servers_and_nats']:>5}"
            f"  {', '.join(faults(r)) or 'yes'}"
            + (f" ({r['moves']} moved)" if r.get("moves") else "")
        )
    return "\n".join(lines)


# -- command line --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default=",".join(CONFIG_NAMES[:4]), help="comma-separated")
    parser.add_argument("--players", default="200,1000", help="comma-separated player counts")
    parser.add_argument("--rate", type=float, default=1.0, help="commands a second per player")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--drain", type=float, default=30.0, help="wait for late replies")
    parser.add_argument("--relayed", type=float, help="share relayed in split2/split4")
    parser.add_argument("--mix", default=DEFAULT_MIX)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reply-timeout", type=float, default=10.0)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--postgres", default=os.environ.get("KADATH_TEST_POSTGRES_URL"))
    parser.add_argument("--json", help="write the results here")
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated roles (serve, gateway, engine, …) to run under cProfile; slows"
        " them: for where the time goes, not for figures",
    )
    parser.add_argument("--logs", help="keep the processes' logs in this (new) directory")
    parser.add_argument("--quick", action="store_true", help="20 players, 1+5 s: a smoke run")
    args = parser.parse_args(argv)
    if not args.postgres:
        parser.error("set --postgres or KADATH_TEST_POSTGRES_URL")
    if args.quick:
        args.players, args.duration, args.warmup, args.drain = "20", 5.0, 1.0, 15.0
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    args.profile = {r.strip() for r in args.profile.split(",") if r.strip()}
    if unknown := set(args.configs) - set(CONFIG_NAMES):
        parser.error(f"unknown configurations {sorted(unknown)}; known: {CONFIG_NAMES}")
    args.players = sorted(int(p) for p in str(args.players).split(","))
    if not all(1 <= p <= 2000 for p in args.players):
        parser.error("--players: 1 to 2000")
    if args.relayed is not None and not 0 <= args.relayed <= 1:
        parser.error("--relayed: 0 to 1")
    return args


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    random.seed(args.seed)
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        if args.logs:
            root = Path(args.logs)  # made by main()
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kadath-bench-")))
        async with migrated_database(args.postgres) as url, private_nats(root) as nats:
            database = str(sa.make_url(url).database)
            setup = Setup(args, url, database, nats, root)
            for players in args.players:
                for config in args.configs:
                    result = await run_config(setup, config, players)
                    result["loadavg_after"] = loadavg()
                    results.append(result)
                    log(
                        f"{config} {players}: {result['replies_per_s']} replies/s, p99"
                        f" {result['latency_ms'].get('p99')} ms, CPU/command"
                        f" {result['cpu_ms_per_command']['servers_and_nats']} ms,"
                        f" {', '.join(faults(result)) or 'every command answered once'}"
                    )
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.logs:
        Path(args.logs).mkdir(parents=True)
    started = {"loadavg": loadavg(), "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    results = runner(main_async(args))
    print(table(results))
    print(f"load average before {started['loadavg']}, after {loadavg()}; {os.cpu_count()} CPUs")
    if args.json:
        document = {
            "started": started,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "config": {
                k: sorted(v) if isinstance(v, set) else v
                for k, v in vars(args).items()
                if k not in ("postgres", "json", "logs")
            },
            "results": results,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 1 if any(faults(r) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
