"""What an idle ``kadath serve`` process (telnet on, as ``make run`` has it) holds: none of
uvicorn's CLI (click, the reloaders), telnetlib3's client or wcwidth's tables, Alembic, PyJWT,
pwdlib, argon2 or prometheus_client; and logging in and scraping /metrics then load them and
work. Nor does it run libuv's thread pool: its listeners are bound to their addresses without
the event loop resolving them, and the first resolution is what starts that pool's four threads
(kadath.listening)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx2

NEVER_AT_IDLE = (
    "uvicorn.main",
    "uvicorn.supervisors",
    "click",
    "watchfiles",
    "telnetlib3.client",
    "telnetlib3.server_shell",
    "wcwidth",
    "alembic",
    "mako",
    "jwt",
    "pwdlib",
    "argon2",
    "prometheus_client",
)

SERVE_AND_LIST_MODULES = """
import json, sys
from kadath import cli
from kadath.lazy_packages import defer_serve_packages

defer_serve_packages()  # as ``cli.serve`` does first; then the server can be patched
from kadath.server import KadathServer

listening = KadathServer.startup

async def startup(self, sockets=None):
    await listening(self, sockets)
    print(json.dumps(sorted(sys.modules)), flush=True)

KadathServer.startup = startup
sys.exit(cli.main(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    env.update(
        KADATH_DATA_DIR=str(data_dir),
        KADATH_TELNET_HOST="127.0.0.1",
        KADATH_TELNET_PORT=str(free_port()),
        KADATH_NPC_SPAWNING="false",
        KADATH_ARGON2_TIME_COST="1",
        KADATH_ARGON2_MEMORY_COST="1024",
        KADATH_LOG_LEVEL="WARNING",
    )
    return env


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for n in names if m == n or m.startswith(n + "."))


async def test_an_idle_server_holds_no_cli_client_auth_or_metrics_modules(tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", SERVE_AND_LIST_MODULES, str(port)),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(90):
            line = b""
            while not line.startswith(b"["):
                line = await process.stdout.readline()
                assert line, "the server exited before it listened"
        modules = json.loads(line)
        async with httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30
        ) as http:
            assert (await http.get("/api/monitoring/health")).status_code == 200
            account = {"username": "idleadmin", "password": "idle-admin-password"}
            (await http.post("/api/auth/register", json=account)).raise_for_status()
            login = await http.post("/api/auth/login", data=account)
            login.raise_for_status()
            token = login.json()["access_token"]
            me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
            scrape = await http.get("/metrics")
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await process.wait()
    assert "telnetlib3.server" in modules  # telnet is on
    assert loaded(modules, NEVER_AT_IDLE) == [], ",".join(loaded(modules, NEVER_AT_IDLE))
    assert me.status_code == 200, me.text
    assert scrape.status_code == 200
    assert "kadath_players_online" in scrape.text


SERVE = "import sys; from kadath import cli; sys.exit(cli.main(sys.argv[1:]))"


def thread_names(pid: int) -> list[str]:
    tasks = Path(f"/proc/{pid}/task")
    return sorted((task / "comm").read_text().strip() for task in tasks.iterdir())


async def test_an_idle_server_starts_no_libuv_thread_pool(tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path)
    telnet_port = int(env["KADATH_TELNET_PORT"])
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with (
            asyncio.timeout(90),
            httpx2.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=5
            ) as http,
        ):
            while True:
                with contextlib.suppress(httpx2.TransportError):
                    if (await http.get("/api/monitoring/health")).status_code == 200:
                        break
                assert process.returncode is None, "the server exited before it listened"
                await asyncio.sleep(0.2)
            reader, writer = await asyncio.open_connection("127.0.0.1", telnet_port)
            assert await reader.read(1), "the telnet listener answers"
            writer.close()
        names = thread_names(process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await process.wait()
    assert "libuv-worker" not in names, names
