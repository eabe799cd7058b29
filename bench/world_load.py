"""Living-world load: many players fighting, looting and walking while many NPCs wander.

    uv run python bench/world_load.py --players 500 --npcs 500 --duration 30
    uv run python bench/world_load.py --players 500 --npcs 500 --duration 30 \\
        --backend postgresql --pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

Launches ``kadath serve`` as a subprocess on a free loopback port (fresh temporary data dir;
SQLite, or a uniquely named PostgreSQL database created on ``--pg-url`` and dropped after),
with cheap argon2, high rate limits, the world's spawn rules off (``KADATH_NPC_SPAWNING``) and
the tick at ``--tick-rate``. The first account is the admin: its character walks the world and
``spawn``s ``--npcs`` NPCs in the rooms of their home zones (so they wander), and tops the
population back up every few seconds as players kill them. Then ``--players`` players
(set up and spread over the rooms as bench/load.py does) each send about ``--rate`` commands a
second from a mix of attack (an NPC in the room, when they know of one), get all from a corpse,
get all, drop all, flee, look, score and walk.

Measured over the window: command reply latency client-side (p50/p95/p99, per kind), and the
server's tick from ``/api/monitoring/stats`` sampled every second (admin token): ticks run
against the rate, overruns, and tick duration p50/p99. The admin's ``tick reset`` at the start
of the window makes the server's duration quantiles cover the window only. Prints one JSON
document. Players, NPCs, duration and the whole run are capped; only loopback is contacted; the
server subprocess is always stopped (and killed if it will not stop).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import itertools
import json
import os
import platform
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SELF = Path(__file__).resolve()
HERE = SELF.parent
sys.path.insert(0, str(HERE))

import httpx2  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, WebSocketException  # noqa: E402

from load import (  # noqa: E402
    DEFAULT_PG_URL,
    Bot,
    Recorder,
    Sampler,
    ServerProcess,
    Snapshot,
    admin_token,
    connect_bots,
    cpu_percent,
    drive,
    loadavg,
    log,
    postgres_database,
    require_loopback,
    run_main,
    server_stats,
    setup_players,
    summarize_ms,
)

MAX_PLAYERS = 1000
MAX_NPCS = 2000
MAX_DURATION = 120.0
MAX_OVERALL = 900.0
TOP_UP_EVERY = 3.0
TOP_UP_MAX = 100
WANDERERS = ("rat_swarm", "orderly", "sexton", "fisherman", "ghoul", "cultist")
DEFAULT_MIX = "attack=20,loot=10,get=10,drop=5,flee=5,look=20,walk=25,score=5"
MIX_KINDS = {"attack", "loot", "get", "drop", "flee", "look", "walk", "score"}
PARK = "arkham.boarding_house"  # a safe room for the admin between spawning rounds
_WORD = re.compile(r"[a-z]+")


# -- the server -------------------------------------------------------------------------------
class WorldServer(ServerProcess):
    """bench/load.py's server process, with the living world's settings."""

    def __init__(self, data_dir: Path, database_url: str | None, args: argparse.Namespace):
        super().__init__(data_dir, database_url, None)
        self.args = args

    async def start(self, command_rate: str) -> None:
        env = {
            **os.environ,
            "KADATH_DATA_DIR": str(self.data_dir),
            "KADATH_ARGON2_TIME_COST": "1",
            "KADATH_ARGON2_MEMORY_COST": "1024",
            "KADATH_LOGIN_RATE_LIMIT": "100000/minute",
            "KADATH_REGISTRATION_RATE_LIMIT": "100000/minute",
            "KADATH_PASSWORD_HASH_QUEUE": "100000",
            "KADATH_UNAUTHENTICATED_CONNECTIONS_PER_IP": "100000",
            "KADATH_COMMAND_RATE": command_rate,
            "KADATH_LOG_LEVEL": "WARNING",
            "KADATH_TELNET_PORT": "0",  # never bind 4000 (another server may hold it)
            "KADATH_NPC_SPAWNING": "true" if self.args.npc_spawning else "false",
            "KADATH_TICK_RATE": str(self.args.tick_rate),
        }
        if self.args.server_cprofile:
            env["KADATH_BENCH_CPROFILE"] = str(self.args.server_cprofile)
        env.pop("KADATH_DATABASE_URL", None)
        if self.database_url:
            env["KADATH_DATABASE_URL"] = self.database_url
        serve = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.args.server_cprofile:
            argv = [sys.executable, str(SELF.parent / "load_serve.py"), *serve]
        else:
            argv = [sys.executable, "-m", "kadath", *serve]
        with self.log_path.open("wb") as out:
            # cwd is the data dir, so no stray .env file is read
            self.proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=self.data_dir, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        log(f"server pid {self.proc.pid} on {self.url}")


# -- the admin: spawning and topping up --------------------------------------------------------
class AdminClient:
    """One WebSocket as the admin character: a command at a time, replies by id."""

    def __init__(self) -> None:
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self.welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def open(self, ws_url: str, token: str, name: str, wait_s: float) -> None:
        self.ws = await connect(ws_url, proxy=None, ping_interval=None, max_queue=None)
        self.reader = asyncio.create_task(self._read())
        await self.ws.send(json.dumps({"type": "hello", "token": token, "player": name}))
        await asyncio.wait_for(asyncio.shield(self.welcomed), wait_s)

    async def _read(self) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed, WebSocketException, OSError):
            async for raw in self.ws:
                if '"reply"' not in raw and '"welcome"' not in raw and '"error"' not in raw:
                    continue  # the admin ignores the world's chatter
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "welcome" and not self.welcomed.done():
                    self.welcomed.set_result(None)
                elif kind == "error" and not self.welcomed.done():
                    self.welcomed.set_exception(ConnectionError(str(frame.get("text"))))
                elif kind == "reply":
                    waiter = self.waiting.pop(str(frame.get("re")), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(frame)

    async def command(self, text: str, wait_s: float = 10.0) -> dict[str, Any]:
        assert self.ws is not None
        frame_id = f"a{next(self.ids)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[frame_id] = waiter
        await self.ws.send(json.dumps({"type": "command", "id": frame_id, "text": text}))
        return await asyncio.wait_for(waiter, wait_s)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 3)
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


def spawn_plan(count: int, seed: int) -> list[tuple[str, str]]:
    """(room, npc id) for ``count`` NPCs: wanderers round robin, each in an unsafe room of its
    home zone, rooms taken round robin per zone."""
    from kadath.world import DEFAULT_WORLD_DIR, load_world

    world = load_world(DEFAULT_WORLD_DIR)
    rng = random.Random(seed)
    rooms: dict[str, list[str]] = {}
    for room in world.rooms.values():
        if not room.safe:
            rooms.setdefault(room.zone_id, []).append(room.id)
    for ids in rooms.values():
        ids.sort()
        rng.shuffle(ids)
    kinds = [k for k in WANDERERS if world.npcs[k].home_zone in rooms]
    turn: Counter[str] = Counter()
    plan = []
    for index in range(count):
        npc = kinds[index % len(kinds)]
        zone = str(world.npcs[npc].home_zone)
        plan.append((rooms[zone][turn[zone] % len(rooms[zone])], npc))
        turn[zone] += 1
    return sorted(plan)


async def spawn_all(admin: AdminClient, plan: list[tuple[str, str]]) -> Counter[str]:
    """Walk the admin room by room and spawn; returns outcomes (ok / refusal texts)."""
    outcomes: Counter[str] = Counter()
    for room, group in itertools.groupby(plan, key=lambda p: p[0]):
        reply = await admin.command(f"goto {room}")
        if not reply.get("ok"):
            outcomes[f"goto: {reply.get('text')}"] += 1
            continue
        for _, npc in group:
            reply = await admin.command(f"spawn {npc}")
            outcomes["spawned" if reply.get("ok") else str(reply.get("text"))[:60]] += 1
    await admin.command(f"goto {PARK}")
    return outcomes


# -- one player of the living world ------------------------------------------------------------
class WorldBot(Bot):
    """A bench/load.py bot that also knows which NPCs it has seen in its room, and fights and
    loots as well as walking and looking."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.npcs: list[str] = []

    def _on_room(self, room: dict[str, Any]) -> None:
        super()._on_room(room)
        self.npcs = [str(n) for n in room.get("npcs", [])]

    def _on_frame(self, raw: str, now: float) -> None:
        super()._on_frame(raw, now)
        if raw.startswith('{"type":"event"') and '"npc":true' in raw:
            frame = json.loads(raw)
            name = str(frame.get("name", ""))
            if frame.get("event") == "arrived":
                self.npcs.append(name)
            elif frame.get("event") == "left" and name in self.npcs:
                self.npcs.remove(name)

    def choose(self) -> tuple[str, str]:
        kind = self.rng.choices(self.kinds, cum_weights=self.cum)[0]
        if kind == "attack":
            if not self.npcs:
                return "look", "look"
            words = _WORD.findall(self.rng.choice(self.npcs).lower())
            return kind, f"attack {words[-1]}" if words else "look"
        if kind == "loot":
            return kind, "get all from corpse"
        if kind == "get":
            return kind, "get all"
        if kind == "drop":
            return kind, "drop all"
        if kind == "flee":
            return kind, "flee"
        return super().choose() if kind == "walk" else (kind, kind)


def parse_mix(text: str) -> dict[str, int]:
    mix: dict[str, int] = {}
    for part in text.split(","):
        name, _, weight = part.strip().partition("=")
        if name not in MIX_KINDS or not weight.strip().isdigit():
            raise SystemExit(f"--mix: expected name=weight with names in {sorted(MIX_KINDS)}")
        if int(weight):
            mix[name] = int(weight)
    if not mix:
        raise SystemExit("--mix: every weight is zero")
    return mix


# -- watching the tick -------------------------------------------------------------------------
class TickWatch:
    """Samples /api/monitoring/stats every second; tops the NPC population up as it goes."""

    def __init__(
        self, client: httpx2.AsyncClient, token: str, admin: AdminClient, plan: list[Any]
    ) -> None:
        self.client, self.token, self.admin = client, token, admin
        self.plan = itertools.cycle(plan)
        self.samples: list[dict[str, Any]] = []
        self.topped_up = 0
        self.target = len(plan)

    async def sample(self) -> dict[str, Any] | None:
        stats = await server_stats(self.client, self.token)
        if stats is not None:
            stats["at"] = time.perf_counter()
            self.samples.append(stats)
        return stats

    async def run(self, start: float, end: float) -> None:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        await self.admin.command("tick reset")
        await self.sample()
        last_top_up = time.perf_counter()
        while time.perf_counter() < end:
            await asyncio.sleep(max(0.0, min(1.0, end - time.perf_counter())))
            stats = await self.sample()
            if stats and time.perf_counter() - last_top_up >= TOP_UP_EVERY:
                last_top_up = time.perf_counter()
                missing = min(TOP_UP_MAX, self.target - int(stats.get("npcs", 0)))
                if missing > 0:
                    plan = sorted(next(self.plan) for _ in range(missing))
                    outcomes = await spawn_all(self.admin, plan)
                    self.topped_up += outcomes["spawned"]

    def report(self, rate: float) -> dict[str, Any]:
        if len(self.samples) < 2:
            return {"samples": len(self.samples)}
        first, last = self.samples[0], self.samples[-1]
        seconds = last["at"] - first["at"]
        ticks = last["extra"]["ticks"] - first["extra"]["ticks"]
        p99s = [s["extra"]["tick_p99_ms"] for s in self.samples[1:]]
        return {
            "samples": len(self.samples),
            "seconds": round(seconds, 1),
            "ticks": int(ticks),
            "ticks_expected": round(rate * seconds),
            "tick_rate_achieved": round(ticks / seconds, 2) if seconds > 0 else None,
            "overruns": int(last["extra"]["tick_overruns"] - first["extra"]["tick_overruns"]),
            "tick_p50_ms": last["extra"]["tick_p50_ms"],
            "tick_p99_ms": last["extra"]["tick_p99_ms"],
            "tick_p99_ms_worst_running_sample": max(p99s),
            "npcs_alive": {"start": first.get("npcs"), "end": last.get("npcs")},
            "npcs_min": min(s.get("npcs", 0) for s in self.samples),
            "npcs_topped_up": self.topped_up,
            "players_online_end": last.get("players_online"),
            "database_pool_checked_out_max": max(
                int((s.get("database_pool") or {}).get("checkedout", 0)) for s in self.samples
            ),
            "server_command_latency_ms_end": last.get("command_latency_ms"),
        }


# -- the run -----------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4))
    mix = parse_mix(args.mix)
    report: dict[str, Any] = {
        "config": {k: v for k, v in vars(args).items() if k not in ("pg_url",)},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": loadavg(),
        },
    }
    report["config"]["mix"] = mix
    async with contextlib.AsyncExitStack() as stack:
        database_url = None
        if args.backend == "postgresql":
            database_url = await stack.enter_async_context(postgres_database(args.pg_url))
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kadath-world-")))
        server = WorldServer(data_dir, database_url, args)
        atexit.register(server.kill_now)
        client = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=server.url, timeout=30, trust_env=False)
        )
        try:
            await server.start(args.command_rate)
            await server.wait_ready(client)
            report.update(await world_run(args, server, client, mix, tag))
        finally:
            code = await server.stop()
            report["server_exit_code"] = code
            if code not in (0, None):
                report["server_log_tail"] = server.tail()
    report["machine"]["loadavg_after"] = loadavg()
    return report


async def world_run(
    args: argparse.Namespace,
    server: WorldServer,
    client: httpx2.AsyncClient,
    mix: dict[str, int],
    tag: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    token = await admin_token(client, tag)
    response = await client.post(
        "/api/players",
        json={"name": f"Keeper{tag}", "profession_id": await _profession(client)},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    ws_url = server.url.replace("http://", "ws://") + "/ws"
    admin = AdminClient()
    await admin.open(ws_url, token, str(response.json()["name"]), args.reply_timeout)
    try:
        started = time.perf_counter()
        plan = await asyncio.to_thread(spawn_plan, args.npcs, args.seed)
        outcomes = await spawn_all(admin, plan)
        out["npc_spawn"] = {
            "outcomes": dict(outcomes),
            "seconds": round(time.perf_counter() - started, 2),
        }
        log(f"spawned {outcomes['spawned']} NPCs")
        pairs, out["setup"] = await setup_players(
            client, args.players, 1, args.setup_concurrency, tag
        )
        rec = Recorder(reply_timeout=args.reply_timeout)
        bots: list[Bot] = [
            WorldBot(i, name, tok, rec, mix, args.seed) for i, (tok, name) in enumerate(pairs)
        ]
        connected, out["connect"] = await connect_bots(bots, ws_url, _connect_args(args))
        log(f"{len(connected)} players in the world; running {args.duration:.0f} s")
        watch = TickWatch(client, token, admin, plan)
        sampler = Sampler(server.pid)
        sampler.start()
        begin = time.perf_counter()
        start, end = begin + args.warmup, begin + args.warmup + args.duration
        first = Snapshot.take(server.pid)
        watcher = asyncio.create_task(watch.run(start, end))
        try:
            await drive(connected, rec, _drive_args(args))
        finally:
            await asyncio.gather(watcher, return_exceptions=True)
            await sampler.stop()
        last = Snapshot.take(server.pid)
        out["replies"] = _replies(rec)
        out["tick"] = watch.report(args.tick_rate)
        out["server"] = {
            "cpu_percent_mean": cpu_percent(first, last, "server_cpu"),
            "client_cpu_percent_mean": cpu_percent(first, last, "client_cpu"),
            **sampler.peaks(start, end),
        }
        out["targets"] = _targets(out)
        await asyncio.gather(*(b.close() for b in connected))
    finally:
        await admin.close()
    return out


async def _profession(client: httpx2.AsyncClient) -> int:
    response = await client.get("/api/professions")
    response.raise_for_status()
    return int(min(response.json(), key=lambda p: sum(p["requirements"].values()))["id"])


def _connect_args(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(
        spread="rooms",
        spread_steps=0,
        connect_concurrency=args.connect_concurrency,
        compression="none",
        reply_timeout=args.reply_timeout,
    )


def _drive_args(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(
        warmup=args.warmup,
        duration=args.duration,
        saturate=False,
        rate=args.rate,
        reply_timeout=args.reply_timeout,
    )


def _replies(rec: Recorder) -> dict[str, Any]:
    window = rec.window_end - rec.window_start
    return {
        "sent": rec.sent,
        "per_second": round(rec.replies_in_window / window, 1) if window > 0 else None,
        "latency_ms": summarize_ms(rec.latencies),
        "by_kind_ms": {k: summarize_ms(v) for k, v in sorted(rec.by_kind.items())},
        "refused": dict(rec.refused),
        "timeouts": rec.timeouts,
        "disconnects": rec.disconnects,
        "send_failures": rec.send_failures,
        "error_codes": dict(rec.error_codes),
        "frames": dict(rec.frames),
        "schedule_lag_ms_p99": summarize_ms(rec.schedule_lag).get("p99"),
    }


def _targets(out: dict[str, Any]) -> dict[str, Any]:
    tick_p99 = out["tick"].get("tick_p99_ms")
    reply_p99 = out["replies"]["latency_ms"].get("p99")
    return {
        "tick_p99_under_20ms": tick_p99 is not None and tick_p99 < 20.0,
        "reply_p99_under_50ms": reply_p99 is not None and reply_p99 < 50.0,
    }


def summary_line(report: dict[str, Any]) -> str:
    tick, replies = report.get("tick", {}), report.get("replies", {})
    latency = replies.get("latency_ms", {})
    return (
        f"players {report['config']['players']} npcs {report['config']['npcs']} "
        f"{report['config']['backend']}: tick p50 {tick.get('tick_p50_ms')} ms "
        f"p99 {tick.get('tick_p99_ms')} ms, {tick.get('ticks')}/{tick.get('ticks_expected')} "
        f"ticks, {tick.get('overruns')} overruns; reply p50 {latency.get('p50')} "
        f"p95 {latency.get('p95')} p99 {latency.get('p99')} ms ({replies.get('per_second')}/s)"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--players", type=int, default=500, help=f"≤ {MAX_PLAYERS} (500)")
    parser.add_argument("--npcs", type=int, default=500, help=f"≤ {MAX_NPCS} (500)")
    parser.add_argument("--rate", type=float, default=1.0, help="commands/s per player (1.0)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds (30)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--tick-rate", type=float, default=10.0, help="server ticks/s (10)")
    parser.add_argument("--npc-spawning", action="store_true", help="keep the spawn rules on")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server (loopback)")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"command weights ({DEFAULT_MIX})")
    parser.add_argument("--setup-concurrency", type=int, default=32)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--reply-timeout", type=float, default=10.0)
    parser.add_argument("--command-rate", default="1000/second", help="server's per-player cap")
    parser.add_argument("--timeout", type=float, help=f"whole-run cap (≤ {MAX_OVERALL:.0f} s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", help="write the JSON here as well as to stdout")
    parser.add_argument(
        "--server-cprofile", help="profile the server (slows it: for where time goes only)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.players <= MAX_PLAYERS:
        parser.error(f"--players must be 1–{MAX_PLAYERS}")
    if not 0 <= args.npcs <= MAX_NPCS:
        parser.error(f"--npcs must be 0–{MAX_NPCS}")
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be in (0, {MAX_DURATION:.0f}]")
    if not 0 <= args.warmup <= 30:
        parser.error("--warmup must be 0–30")
    if not 0 < args.rate <= 20:
        parser.error("--rate must be in (0, 20]")
    if not 1 <= args.tick_rate <= 100:
        parser.error("--tick-rate must be 1–100")
    require_loopback(urlsplit(args.pg_url).hostname, "--pg-url")
    if args.server_cprofile:
        args.server_cprofile = str(Path(args.server_cprofile).resolve())
    args.setup_concurrency = max(1, min(args.setup_concurrency, 200))
    args.connect_concurrency = max(1, min(args.connect_concurrency, 500))
    args.reply_timeout = max(0.5, min(args.reply_timeout, 60.0))
    budget = 180.0 + args.players * 0.2 + args.npcs * 0.02 + args.warmup + args.duration
    args.timeout = min(args.timeout or budget, MAX_OVERALL)
    return args


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await asyncio.wait_for(run(args), args.timeout)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_main(args, main_async, summary_line)


if __name__ == "__main__":
    sys.exit(main())
