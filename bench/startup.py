"""Start-up and memory benchmark: a fresh clone, its install, two starts, idle RSS, RSS per player.

    uv run python bench/startup.py                       # this checkout's HEAD, 200 players
    uv run python bench/startup.py --ref main --players 100
    uv run python bench/startup.py --repo /path/to/kadath --ref <commit> --starts 3
    uv run python bench/startup.py --modes deflate,none --servers same   # the old way, reversed

It ``git clone``s ``--repo`` (default: this checkout) at ``--ref`` into a temporary directory,
runs ``--install`` there (default ``make run-deps``: the install step ``make run`` runs first) and
times it, then starts the clone's ``.venv/bin/kadath serve`` ``--starts`` times (default 2) on a
free loopback port with one temporary data directory (SQLite; the first start creates and
migrates the database, the next ones find it at head). Each start is timed from the spawn to
the first 200 of ``/api/monitoring/health`` (uvicorn answers only once the lifespan, i.e. the
whole game, has started), then the server idles ``--idle`` seconds and its RSS is read from
/proc/<pid>/status. After the last start ``--players`` accounts and characters are made over
HTTP on that server. Then the RSS per connected player, for each of ``--modes`` (``none``: no
compression, ``deflate``: permessage-deflate, as browsers negotiate), by default each on a
server of its own (``--servers fresh``: the last start's server stops, and a new one starts on
the same data for each mode; the same characters join each): one WebSocket player connects to
warm the path, RSS is read, the batch connects (and is welcomed), and after ``--idle`` seconds
RSS is read again: the difference over the players is the RSS per connected player.
``--servers same`` measures every batch on the last start's server, one after another (what
this benchmark did before): a later batch then counts some ~25-40 KiB a player of allocator
growth that any second batch shows, whatever its mode. Each start's ``startup_phases`` log
line (ms per phase) is included when the server writes one. One JSON document goes to
stdout; progress to stderr.

The server runs with ``PYTHONOPTIMIZE=2`` as ``make run`` has it (``--optimize 0`` for a
commit before that, whose install compiled no ``.opt-2.pyc``), and with the rest of
``make run``'s environment, ``PYTHONNODEBUGRANGES=1`` and ``MALLOC_ARENA_MAX=2``
(``--no-serve-env``: without them, as ``make run`` served before 2026-12-01).
Telnet is on (a free loopback port; ``--no-telnet``: off), NPC spawning on, as ``make run`` has
them; argon2 is cheap (setup speed only) and logs are at INFO so the phase line is written.
Nothing but loopback is contacted; the server is always stopped and the temporary directory
removed (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "startup-bench-password"  # throwaway accounts on a throwaway server
MAX_PLAYERS = 2000


def log(message: str) -> None:
    print(f"[startup {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/stat").read_text()
        fields = raw[raw.rindex(")") + 2 :].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    return None


# What `make run` sets besides PYTHONOPTIMIZE (the Makefile's SERVE_ENV).
MAKE_RUN_ENV = {"PYTHONNODEBUGRANGES": "1", "MALLOC_ARENA_MAX": "2"}


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def clean_env() -> dict[str, str]:
    """Our environment minus whatever would point the clone at this checkout's venv or server."""
    drop = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONHOME", "PYTHONOPTIMIZE")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("KADATH_")}
    venv = os.environ.get("VIRTUAL_ENV")  # `uv run` puts its venv first: python3 is not ours
    if venv:
        keep = [p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(venv)]
        env["PATH"] = os.pathsep.join(keep)
    return env


def clone_and_install(repo: str, ref: str, where: Path, install: str) -> dict[str, Any]:
    clone = where / "kadath"
    subprocess.run(["git", "clone", "--quiet", repo, str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", ref], check=True)
    commit = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    log(f"cloned {repo} at {ref} ({commit}); installing: {install}")
    started = time.perf_counter()
    subprocess.run(install, shell=True, cwd=clone, env=clean_env(), check=True)
    seconds = time.perf_counter() - started
    venv = clone / ".venv"
    pyc = sum(1 for _ in venv.rglob("*.pyc")) + sum(1 for _ in (clone / "src").rglob("*.pyc"))
    return {"commit": commit, "install_seconds": round(seconds, 2), "pyc_files": pyc}


class Server:
    def __init__(
        self, clone: Path, data_dir: Path, telnet: bool, optimize: int = 2, serve_env: bool = True
    ) -> None:
        self.clone, self.data_dir, self.telnet = clone, data_dir, telnet
        self.optimize = optimize
        self.serve_env = serve_env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        env = clean_env()
        env.update(
            {
                "KADATH_DATA_DIR": str(self.data_dir),
                "KADATH_TELNET_HOST": "127.0.0.1",
                "KADATH_TELNET_PORT": str(free_port()) if self.telnet else "0",
                "KADATH_LOG_LEVEL": "INFO",
                "KADATH_LOG_JSON": "true",
                "KADATH_ARGON2_TIME_COST": "1",
                "KADATH_ARGON2_MEMORY_COST": "8",
                "KADATH_LOGIN_RATE_LIMIT": "100000/minute",
                "KADATH_REGISTRATION_RATE_LIMIT": "100000/minute",
                "KADATH_PASSWORD_HASH_QUEUE": "100000",
                "KADATH_UNAUTHENTICATED_CONNECTIONS_PER_IP": "100000",
            }
        )
        if self.optimize:
            env["PYTHONOPTIMIZE"] = str(self.optimize)
        if self.serve_env:  # the rest of make run's SERVE_ENV
            env.update(MAKE_RUN_ENV)
        argv = [str(self.clone / ".venv/bin/kadath"), "serve", "--port", str(self.port)]
        argv += ["--host", "127.0.0.1"]
        with self.log_path.open("ab") as out:
            started = time.perf_counter()
            self.proc = subprocess.Popen(  # cwd: the data dir, so no stray .env is read
                argv, env=env, cwd=self.data_dir, stdout=out, stderr=subprocess.STDOUT
            )
        return started

    async def wait_healthy(self, started: float, within: float = 120.0) -> float:
        async with httpx2.AsyncClient(base_url=self.url, trust_env=False, timeout=2) as http:
            while time.perf_counter() - started < within:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited early; see {self.log_path}")
                with contextlib.suppress(httpx2.TransportError):
                    if (await http.get("/api/monitoring/health")).status_code == 200:
                        return time.perf_counter() - started
                await asyncio.sleep(0.01)
        raise RuntimeError(f"server not healthy in {within:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def phases(self) -> dict[str, Any] | None:
        """The last ``startup_phases`` line this server wrote, if any."""
        found = None
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "startup_phases" in line:
                with contextlib.suppress(ValueError):
                    found = json.loads(line[line.index("{") :])
        return found


async def register(http: httpx2.AsyncClient, username: str) -> str:
    response = await http.post(
        "/api/auth/register", json={"username": username, "password": PASSWORD}
    )
    response.raise_for_status()
    response = await http.post("/api/auth/login", data={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def make_players(http: httpx2.AsyncClient, count: int) -> list[tuple[str, str]]:
    await register(http, "sbadmin")  # the first account is an admin: keep players plain
    professions = (await http.get("/api/professions")).json()
    profession = min(professions, key=lambda p: sum(p["requirements"].values()))["id"]
    gate = asyncio.Semaphore(8)

    async def one(index: int) -> tuple[str, str]:
        async with gate:
            token = await register(http, f"sb{index}")
            response = await http.post(
                "/api/players",
                json={
                    "name": f"Sb{''.join(chr(97 + int(d)) for d in str(index))}",
                    "profession_id": profession,
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            return token, str(response.json()["name"])

    return list(await asyncio.gather(*(one(i) for i in range(count))))


class Refused(RuntimeError):
    """The server answered hello with an error frame."""


async def join(ws_url: str, token: str, name: str, compression: str | None) -> ClientConnection:
    ws = await connect(
        ws_url,
        compression=compression,
        proxy=None,
        ping_interval=None,
        open_timeout=30,
        max_queue=None,
    )
    await ws.send(json.dumps({"type": "hello", "token": token, "player": name}))
    async with asyncio.timeout(30):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "welcome":
                return ws
            if frame.get("type") == "error":
                await ws.close()
                raise Refused(f"{name} refused: {frame}")


async def drain(ws: ClientConnection) -> None:
    """Read and drop what the server sends, so no player's queue backs up."""
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def per_player(
    server: Server,
    warm: tuple[str, str],
    batches: list[tuple[str, list[tuple[str, str]]]],
    idle: float,
) -> dict[str, Any]:
    """RSS per connected player on ``server``: one player (permessage-deflate) warms the path
    (first-use imports, caches), then each batch connects (``none``: no compression,
    ``deflate``: permessage-deflate, what browsers negotiate) on top of the ones before; RSS
    is read ``idle`` seconds before and after each batch."""
    assert server.proc is not None
    pid = server.proc.pid
    ws_url = f"ws://127.0.0.1:{server.port}/ws"
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    report: dict[str, Any] = {}

    gate = asyncio.Semaphore(10)
    retries = 0

    async def one(token: str, name: str, compression: str | None) -> None:
        nonlocal retries
        async with gate:
            for attempt in range(5):
                try:
                    ws = await join(ws_url, token, name, compression)
                    break
                except Refused:  # a busy machine: SQLite's writer lock, a full hashing queue
                    if attempt == 4:
                        raise
                    retries += 1
                    await asyncio.sleep(0.5)
        sockets.append(ws)
        readers.append(asyncio.create_task(drain(ws)))

    try:
        await one(*warm, "deflate")
        for compression, batch in batches:
            await asyncio.sleep(idle)
            before = rss_kib(pid)
            mode = None if compression == "none" else compression
            await asyncio.gather(*(one(t, n, mode) for t, n in batch))
            await asyncio.sleep(idle)
            after = rss_kib(pid)
            assert before is not None
            assert after is not None
            key = f"compression_{compression}"
            while key in report:  # the same mode again (--servers same --modes none,none)
                key += "_again"
            report[key] = {
                "rss_kib_before": before,
                "rss_kib_after": after,
                "rss_kib_per_player": round((after - before) / len(batch), 1),
            }
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    report["hello_retries"] = retries
    return report


async def players_report(
    args: argparse.Namespace, last: Server, clone: Path, data_dir: Path
) -> dict[str, Any]:
    """The per-player figures: the characters are made on ``last`` (the last start's server,
    still running); then, with ``--servers fresh``, ``last`` stops and each mode is measured
    on a server of its own, started afresh on the same data (the same characters join each
    one); with ``--servers same``, every mode's batch (characters of its own) joins ``last``,
    one batch after another, in the order of ``--modes``."""
    modes = args.modes
    fresh = args.servers == "fresh"
    count = 1 + args.players * (1 if fresh else len(modes))
    async with httpx2.AsyncClient(base_url=last.url, trust_env=False, timeout=60) as http:
        started = time.perf_counter()
        made = await make_players(http, count)
        setup = time.perf_counter() - started
    report: dict[str, Any] = {
        "players": args.players,
        "setup_seconds": round(setup, 1),
        "servers": args.servers,
        "modes": modes,
    }
    warm, rest = made[0], made[1:]
    if not fresh:
        batches = [
            (m, rest[i * args.players : (i + 1) * args.players]) for i, m in enumerate(modes)
        ]
        report.update(await per_player(last, warm, batches, args.idle))
        return report
    last.stop()
    for mode in modes:
        server = Server(clone, data_dir, args.telnet, args.optimize, args.serve_env)
        try:
            began = server.start()
            await server.wait_healthy(began)
            await asyncio.sleep(args.idle)
            measured = await per_player(server, warm, [(mode, rest)], args.idle)
        finally:
            server.stop()
        report[f"compression_{mode}"] = measured[f"compression_{mode}"]
        report[f"compression_{mode}"]["hello_retries"] = measured["hello_retries"]
    return report


async def run(args: argparse.Namespace) -> dict[str, Any]:
    where = Path(tempfile.mkdtemp(prefix="kadath-startup-"))
    report: dict[str, Any] = {
        "repo": args.repo,
        "ref": args.ref,
        "telnet": args.telnet,
        "optimize": args.optimize,
        "loadavg_before": loadavg(),
    }
    try:
        report["install"] = await asyncio.to_thread(
            clone_and_install, args.repo, args.ref, where, args.install
        )
        report["install"]["command"] = args.install
        data_dir = where / "data"
        data_dir.mkdir()
        starts = []
        for number in range(1, args.starts + 1):
            server = Server(where / "kadath", data_dir, args.telnet, args.optimize, args.serve_env)
            try:
                began = server.start()
                seconds = await server.wait_healthy(began)
                assert server.proc is not None
                cpu = cpu_seconds(server.proc.pid)  # what the start cost, however busy the machine
                await asyncio.sleep(args.idle)
                assert server.proc is not None
                start: dict[str, Any] = {
                    "start": number,
                    "seconds_to_healthy": round(seconds, 3),
                    "server_cpu_seconds_to_healthy": cpu,
                    "idle_rss_kib": rss_kib(server.proc.pid),
                    "loadavg_1m": loadavg()[0],
                }
                log(
                    f"start {number}: healthy in {seconds:.2f} s ({cpu} s CPU), "
                    f"RSS {start['idle_rss_kib']} KiB"
                )
                if number == args.starts and args.players:
                    report["players"] = await players_report(
                        args, server, where / "kadath", data_dir
                    )
                    per = {
                        k: v["rss_kib_per_player"]
                        for k, v in report["players"].items()
                        if k.startswith("compression_")
                    }
                    log(f"RSS per player (KiB, {args.servers} servers): {per}")
            finally:
                server.stop()
            start["phases"] = server.phases()
            starts.append(start)
        report["starts"] = starts
        report["loadavg_after"] = loadavg()
    finally:
        if args.keep:
            log(f"kept {where}")
        else:
            shutil.rmtree(where, ignore_errors=True)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=str(ROOT), help="what to clone (default: this checkout)")
    parser.add_argument("--ref", default="HEAD", help="commit, branch or tag to check out")
    parser.add_argument(
        "--install", default="make run-deps", help="the install step, run in the clone"
    )
    parser.add_argument("--starts", type=int, default=2)
    parser.add_argument("--players", type=int, default=200, help="0: skip the per-player figure")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds to settle before RSS")
    parser.add_argument(
        "--modes",
        type=lambda text: text.split(","),
        default=["none", "deflate"],
        help="per-player batches, in order: none (no compression), deflate (default: both)",
    )
    parser.add_argument(
        "--servers",
        choices=("fresh", "same"),
        default="fresh",
        help="fresh (default): each mode on a server of its own; same: every batch on the "
        "last start's server, one after another (a later batch counts more allocator growth)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    parser.add_argument(
        "--optimize",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="PYTHONOPTIMIZE for the server (default 2, as make run; 0 for commits before it)",
    )
    parser.add_argument(
        "--no-serve-env",
        dest="serve_env",
        action="store_false",
        help="without the rest of make run's SERVE_ENV (PYTHONNODEBUGRANGES, MALLOC_ARENA_MAX)",
    )
    parser.add_argument(
        "--no-telnet",
        dest="telnet",
        action="store_false",
        help="telnet off (default: on, on a free port, as make run has it)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.starts <= 10 or not 0 <= args.players <= MAX_PLAYERS:
        parser.error(f"--starts 1..10, --players 0..{MAX_PLAYERS}")
    if not args.modes or not set(args.modes) <= {"none", "deflate"}:
        parser.error("--modes: none, deflate or both, comma-separated")
    if args.servers == "fresh" and len(set(args.modes)) < len(args.modes):
        parser.error("--servers fresh measures each mode once")
    return args


def main() -> None:
    args = parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
