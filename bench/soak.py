"""Soak: a crowd plays normally while attackers and faults try to stall the world.

    uv run python bench/soak.py --players 200 --duration 180
    uv run python bench/soak.py --players 200 --duration 180 --backend postgresql

It starts ``kadath serve`` as a subprocess (see bench/load.py) and, while ``--players``
bystanders play at one command a second, runs every bad input the server has had to learn to
survive, all at once:

- a crasher sends commands that once raised (``help north``, ``get ².coin``, bidi and control
  characters, huge ordinals) four times a second;
- a frame abuser sends malformed, unknown, over-long and deeply nested JSON frames and checks
  that each gets an error frame and the connection stays open;
- a registration flood (``--flood`` registrations at once, from another loopback address)
  every 30 s, and an impostor name (``"Name\\n"``) that must be refused;
- a slow reader: a client in the start room that stops reading; the server must close it;
- a database outage of ``--outage`` seconds in the middle of the run: PostgreSQL is a private
  cluster started on a free port and stopped for that long; on SQLite another process holds
  the write lock for that long.

At the end the server is stopped with SIGTERM, and ``kadath db check`` and the characters'
saved rooms are compared with what the bystanders last saw. The JSON report goes to stdout;
the exit status is 1 when a bystander reply took longer than ``--bound-ms`` (the commands
sent while the database was away are reported apart), a bystander was disconnected, the
slow reader was never closed, or anything was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
from websockets.asyncio.client import ClientConnection, connect

from load import (
    PASSWORD,
    Bot,
    Recorder,
    ServerProcess,
    admin_token,
    connect_bots,
    free_port,
    log,
    run_main,
    setup_players,
    summarize_ms,
)

MIX = {"look": 25, "say": 20, "walk": 20, "emote": 10, "score": 10, "who": 5, "help": 10}
CRASHERS = (
    "help north",
    "get ².coin",
    "drop ٣.coin",
    "wear 99999999999999999999.coat",
    "examine 0.lantern",
    "look -1.x",
    "open \u202ecrate",
    "say \u202eevil\u202c text",
    "whisper \x85nobody hi",
    "get all from ².chest",
    "unlock ¹.door with ².key",
    "help " + "x" * 900,
)
BAD_FRAMES = (
    "not json",
    '{"type":"warp"}',
    "[" * 30_000 + "]" * 30_000,
    '{"type":"command","id":"' + "9" * 100 + '","text":"look"}',
    '{"type":"command","id":"long","text":"' + "a" * 5000 + '"}',
    '{"a":' * 10_000 + "1" + "}" * 10_000,
)
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/bin"))


# -- the database and its outage ---------------------------------------------------------------
class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free loopback port, owned by the postgres user."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kadath-soak-pg-"))
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    async def _pg(self, *args: str) -> None:
        argv = ["runuser", "-u", "postgres", "--", *args]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if await proc.wait() != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed")

    async def init(self) -> None:
        await self._pg(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-A", "trust")

    async def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        data, logfile = str(self.dir / "data"), str(self.dir / "log")
        await self._pg(
            str(PG_BIN / "pg_ctl"), "-D", data, "-o", options, "-l", logfile, "-w", "start"
        )

    async def stop(self) -> None:
        await self._pg(
            str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"
        )

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[tuple[str | None, PrivateCluster | None]]:
    if backend == "sqlite":
        yield None, None
        return
    cluster = PrivateCluster()
    try:
        await cluster.init()
        await cluster.start()
        log(f"private PostgreSQL on port {cluster.port}")
        yield cluster.url, cluster
    finally:
        cluster.remove()


async def outage(cluster: PrivateCluster | None, sqlite_path: Path, seconds: float) -> None:
    """Take the database away for ``seconds``, then give it back."""
    if cluster is not None:
        await cluster.stop()
        await asyncio.sleep(seconds)
        await cluster.start()
        return
    release = threading.Event()
    held = threading.Event()

    def hold_the_lock() -> None:  # another process's writer, as far as the server can tell
        conn = sqlite3.connect(sqlite_path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            held.set()
            release.wait()
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    holder = asyncio.ensure_future(asyncio.to_thread(hold_the_lock))
    await asyncio.to_thread(held.wait, 30)
    await asyncio.sleep(seconds)
    release.set()
    await holder


class SoakRecorder(Recorder):
    """A Recorder that also keeps each reply's send time, to set the outage apart."""

    def __init__(self) -> None:
        super().__init__(reply_timeout=10.0)
        self.samples: list[tuple[float, float]] = []  # (sent at, latency)

    def on_reply(self, kind: str, sent_at: float, now: float, ok: bool) -> None:
        super().on_reply(kind, sent_at, now, ok)
        if self.in_window(sent_at):
            self.samples.append((sent_at, now - sent_at))


# -- the attackers -----------------------------------------------------------------------------
async def crasher(bot: Bot, end: float, counts: Counter[str]) -> None:
    rng = random.Random(7)
    while time.perf_counter() < end and bot.alive:
        await bot.send("crash", rng.choice(CRASHERS))
        counts["crash_commands"] += 1
        await asyncio.sleep(0.25)


async def frame_abuser(
    ws_url: str, token: str, name: str, end: float, counts: Counter[str]
) -> None:
    async with connect(ws_url, proxy=None, max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token, "player": name}))
        await _until(ws, "welcome")
        while time.perf_counter() < end:
            for raw in BAD_FRAMES:
                await ws.send(raw)
                frame = await _until(ws, "error")
                counts[f"bad_frame_{frame.get('code')}"] += 1
            await ws.send(json.dumps({"type": "ping"}))
            await _until(ws, "pong")
            counts["abuser_rounds"] += 1
            await asyncio.sleep(1.0)


async def _until(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if frame.get("type") == kind:
            return frame


async def registration_flood(base_url: str, size: int, end: float, out: dict[str, Any]) -> None:
    """Bursts of registrations from 127.0.0.2, and the impostor name, against the login of an
    account made beforehand (timed: it must not queue behind the flood)."""
    flood_transport = httpx2.AsyncHTTPTransport(local_address="127.0.0.2")
    async with (
        httpx2.AsyncClient(base_url=base_url, timeout=60, transport=flood_transport) as flood,
        httpx2.AsyncClient(base_url=base_url, timeout=60) as client,
    ):
        user = f"soaklogin{random.randrange(10**6)}"
        await client.post("/api/auth/register", json={"username": user, "password": PASSWORD})
        statuses: Counter[int] = Counter()
        logins: list[float] = []
        burst = 0
        while time.perf_counter() < end:
            burst += 1
            names = [f"flood{burst}x{i}x{random.randrange(10**6)}" for i in range(size)]
            sent = [
                flood.post("/api/auth/register", json={"username": n, "password": PASSWORD})
                for n in names
            ]
            flood_task = asyncio.gather(*sent, return_exceptions=True)
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            login = await client.post(
                "/api/auth/login", data={"username": user, "password": PASSWORD}
            )
            logins.append(time.perf_counter() - started)
            statuses[login.status_code] += 1
            for response in await flood_task:
                statuses[getattr(response, "status_code", 0)] += 1
            await asyncio.sleep(30.0)
        out["login_during_flood_ms"] = summarize_ms(logins)
        out["statuses"] = {str(k): v for k, v in sorted(statuses.items())}


async def impostor(base_url: str, token: str, name: str) -> int:
    async with httpx2.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.get("/api/professions")
        profession = response.json()[0]["id"]
        response = await client.post(
            "/api/players",
            json={"name": name + "\n", "profession_id": profession},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code


class SlowReader:
    """A client that greets and then never reads: a raw socket with the smallest receive
    buffer the kernel allows, speaking just enough WebSocket to say hello."""

    def __init__(self, ws_url: str) -> None:
        host_port = ws_url.split("//")[1].split("/")[0]
        host, port = host_port.split(":")
        self.address = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    async def greet(self, token: str, name: str) -> None:
        def handshake() -> None:
            self.sock.settimeout(10)
            self.sock.connect(self.address)
            key = base64.b64encode(os.urandom(16)).decode()
            self.sock.sendall(
                (
                    f"GET /ws HTTP/1.1\r\nHost: {self.address[0]}:{self.address[1]}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += self.sock.recv(1)
            if b" 101 " not in head.split(b"\r\n")[0]:
                raise ConnectionError(head.decode(errors="replace"))
            hello = json.dumps({"type": "hello", "token": token, "player": name}).encode()
            self.sock.sendall(_masked_text_frame(hello))

        await asyncio.to_thread(handshake)

    async def closed_by_server(self, wait_s: float = 5.0) -> bool:
        """Read everything the server queued: True when it ends in EOF or a reset."""

        def drain() -> bool:
            self.sock.settimeout(wait_s)
            try:
                while self.sock.recv(1 << 16):
                    pass
            except TimeoutError:
                return False
            except OSError:
                return True
            return True

        return await asyncio.to_thread(drain)

    def close(self) -> None:
        self.sock.close()


def _masked_text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def shouter(bot: Bot, end: float, counts: Counter[str]) -> None:
    """Fill the start room (where the slow reader stands) with long speech."""
    line = "say " + "Iä! " * 220
    while time.perf_counter() < end and bot.alive:
        await bot.send("shout", line)
        counts["shouts"] += 1
        await asyncio.sleep(0.04)


# -- the run -----------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4))
    report: dict[str, Any] = {"config": dict(vars(args))}
    async with contextlib.AsyncExitStack() as stack:
        database_url, cluster = await stack.enter_async_context(database(args.backend))
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kadath-soak-")))
        server = ServerProcess(data_dir, database_url, None)
        stack.callback(server.kill_now)
        stack.push_async_callback(server.stop)
        await server.start("1000/second")
        ws_url = "ws" + server.url[len("http") :] + "/ws"
        client = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=server.url, timeout=60, trust_env=False)
        )
        await server.wait_ready(client)
        await admin_token(client, tag)
        made, report["setup_http"] = await setup_players(client, args.players + 4, 1, 16, tag)
        rec = SoakRecorder()
        bots = [Bot(i, n, t, rec, MIX, args.seed) for i, (t, n) in enumerate(made[4:])]
        attacker = Bot(-1, made[0][1], made[0][0], Recorder(reply_timeout=10.0), MIX, 0)
        connect_args = argparse.Namespace(
            spread="rooms",
            spread_steps=0,
            connect_concurrency=50,
            reply_timeout=10.0,
            compression="none",
        )
        bots, report["setup_ws"] = await connect_bots(bots, ws_url, connect_args)
        await attacker.connect(ws_url, None, 10.0)
        counts: Counter[str] = Counter()
        flood: dict[str, Any] = {}
        report["impostor_status"] = await impostor(server.url, made[3][0], made[3][1])
        slow = SlowReader(ws_url)
        stack.callback(slow.close)
        await slow.greet(made[2][0], made[2][1])

        begin = time.perf_counter()
        end = begin + args.duration
        rec.window_start, rec.window_end = begin, end
        outage_at = begin + args.duration / 2
        outage_window = (outage_at, outage_at + args.outage + 5.0)
        log(f"soak: {len(bots)} players for {args.duration:.0f} s, outage at half time")

        async def scheduled_outage() -> None:
            await asyncio.sleep(outage_at - time.perf_counter())
            log(f"database away for {args.outage:.0f} s")
            await outage(cluster, data_dir / "kadath.db", args.outage)
            log("database back")

        tasks = [
            *(b.open_loop(1.0, begin, end) for b in bots),
            crasher(attacker, end, counts),
            shouter(attacker, end, counts),
            frame_abuser(ws_url, made[1][0], made[1][1], end, counts),
            registration_flood(server.url, args.flood, end, flood),
            scheduled_outage(),
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        report["task_errors"] = [repr(r) for r in results if isinstance(r, BaseException)]
        await asyncio.sleep(2.0)
        report["slow_reader_closed"] = await slow.closed_by_server()
        report["bystanders"] = _bystanders(rec, outage_window, args.bound_ms)
        report["attacks"] = dict(counts)
        report["registration_flood"] = flood
        await asyncio.sleep(10.0)  # the slowest replies (an outage's) may still arrive
        report["bystanders"]["unanswered"] = sum(len(b.pending) for b in bots)
        last_rooms = {b.name: b.room for b in bots if b.alive}
        await asyncio.gather(*(b.close() for b in bots), attacker.close())
        report["server_exit"] = await server.stop()
        report["lost"] = await _lost(server, database_url, last_rooms)
    report["passed"] = _passed(report, args)
    return report


def _bystanders(rec: SoakRecorder, outage: tuple[float, float], bound_ms: float) -> dict[str, Any]:
    during = [lat for sent, lat in rec.samples if outage[0] <= sent < outage[1]]
    outside = [lat for sent, lat in rec.samples if not outage[0] <= sent < outage[1]]
    return {
        "latency_ms": summarize_ms(rec.latencies),
        "latency_ms_by_command": {k: summarize_ms(v) for k, v in sorted(rec.by_kind.items())},
        "latency_ms_outside_outage": summarize_ms(outside),
        "latency_ms_during_outage": summarize_ms(during),
        "over_bound": sum(1 for x in outside if x * 1000 > bound_ms),
        "over_bound_during_outage": sum(1 for x in during if x * 1000 > bound_ms),
        "timeouts": rec.timeouts,
        "disconnects": rec.disconnects,
        "refused": dict(rec.refused),
    }


async def _lost(
    server: ServerProcess, database_url: str | None, last_rooms: dict[str, str]
) -> dict[str, Any]:
    """Run ``kadath db check`` and compare the saved rooms with the bystanders' last rooms."""
    env = {**os.environ, "KADATH_DATA_DIR": str(server.data_dir)}
    if database_url:
        env["KADATH_DATABASE_URL"] = database_url
    kadath = Path(sys.executable).parent / "kadath"
    proc = await asyncio.create_subprocess_exec(
        str(kadath),
        "db",
        "check",
        env=env,
        cwd=server.data_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    rooms = await _saved_rooms(server.data_dir, database_url)
    moved = {n: (r, rooms.get(n)) for n, r in last_rooms.items() if rooms.get(n) != r}
    return {
        "db_check_exit": proc.returncode,
        "db_check": output.decode(errors="replace")[-2000:],
        "characters_saved": len(rooms),
        "rooms_not_as_last_seen": len(moved),
        "examples": dict(list(moved.items())[:5]),
    }


async def _saved_rooms(data_dir: Path, database_url: str | None) -> dict[str, str]:
    if database_url is None:

        def read() -> dict[str, str]:
            with contextlib.closing(sqlite3.connect(data_dir / "kadath.db")) as conn:
                return dict(conn.execute("SELECT name, room_id FROM players").fetchall())

        return await asyncio.to_thread(read)
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        return {
            r["name"]: r["room_id"] for r in await conn.fetch("SELECT name, room_id FROM players")
        }
    finally:
        await conn.close()


def _passed(report: dict[str, Any], args: argparse.Namespace) -> bool:
    by, lost = report["bystanders"], report["lost"]
    strict_outage = report["config"]["backend"] == "postgresql"
    return (
        by["over_bound"] == 0
        and (not strict_outage or by["over_bound_during_outage"] == 0)
        and by["disconnects"] == 0
        and by["unanswered"] == 0
        and (not strict_outage or by["timeouts"] == 0)
        and bool(report["slow_reader_closed"])
        and report["impostor_status"] == 422
        and lost["db_check_exit"] == 0
        and lost["rooms_not_as_last_seen"] == 0
        and not report["task_errors"]
    )


def summary_line(report: dict[str, Any]) -> str:
    by = report["bystanders"]
    lat = by["latency_ms"]
    return (
        f"soak {report['config']['players']} players {report['config']['duration']:.0f} s "
        f"[{report['config']['backend']}]: p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms, "
        f"max {lat.get('max')} ms, over {report['config']['bound_ms']:.0f} ms: {by['over_bound']}, "
        f"disconnects {by['disconnects']}, slow reader closed {report['slow_reader_closed']}, "
        f"db check exit {report['lost']['db_check_exit']}, "
        f"rooms lost {report['lost']['rooms_not_as_last_seen']}: "
        f"{'PASSED' if report['passed'] else 'FAILED'}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--players", type=int, default=200)
    parser.add_argument("--duration", type=float, default=180.0, help="seconds (≤ 900)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--outage", type=float, default=15.0, help="seconds without a database")
    parser.add_argument("--flood", type=int, default=60, help="registrations per burst")
    parser.add_argument("--bound-ms", type=float, default=250.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    if not 1 <= args.players <= 1000 or not 10 <= args.duration <= 900:
        parser.error("--players must be 1–1000 and --duration 10–900")
    args.timeout = 300.0 + args.players * 0.5 + args.duration
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    verdict: dict[str, bool] = {}

    async def main_async(args: argparse.Namespace) -> dict[str, Any]:
        report = await asyncio.wait_for(run(args), args.timeout)
        verdict["passed"] = bool(report["passed"])
        return report

    status = run_main(args, main_async, summary_line)
    return status if status else (0 if verdict.get("passed") else 1)


if __name__ == "__main__":
    sys.exit(main())
