"""Start-up, in real processes: the phase line a server logs once, and the modules a start
never imports (Alembic and Mako: migrations run in a child process; PyJWT, pwdlib and argon2
before the first login, prometheus_client before the first scrape; telnetlib3 with telnet off;
on SQLite the PostgreSQL dialect and asyncpg; ``pydantic.v1``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx2

SERVE_PHASES = [
    "interpreter",
    "settings",
    "imports",
    "app",
    "world",
    "signing_key",
    "database",
    "migrations",
    "seeding",
    "wiring",
    "restore",
    "first_tick",
    "telnet",
    "listeners",
]
LAZY = (
    "alembic",
    "mako",
    "telnetlib3",
    "wcwidth",
    "asyncpg",
    "sqlalchemy.dialects.postgresql",
    "pydantic.v1",
    "jwt",
    "pwdlib",
    "argon2",
    "prometheus_client",
)

START_IN_PROCESS = """
import asyncio, json, sys
from pathlib import Path
from kadath.bootstrap import start_runtime
from kadath.settings import Settings

async def main() -> None:
    settings = Settings(_env_file=None, data_dir=Path(sys.argv[1]))
    async with start_runtime(settings) as runtime:
        phases = dict(runtime.startup_phases)
    lazy = sorted(
        m for m in sys.modules for p in sys.argv[2].split(",") if m == p or m.startswith(p + ".")
    )
    print(json.dumps({"phases": phases, "lazy": lazy}))

asyncio.run(main())
"""


def kadath_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    env.update(
        KADATH_DATA_DIR=str(data_dir),
        KADATH_TELNET_PORT="0",
        KADATH_NPC_SPAWNING="false",
        KADATH_ARGON2_TIME_COST="1",
        KADATH_ARGON2_MEMORY_COST="1024",
        KADATH_LOG_LEVEL="WARNING",
    )
    env.update({f"KADATH_{key.upper()}": value for key, value in settings.items()})
    return env


async def start_in_process(data_dir: Path) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        START_IN_PROCESS,
        str(data_dir),
        ",".join(LAZY),
        env=kadath_env(data_dir),
        cwd=data_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(90):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def test_no_start_imports_alembic_auth_or_metrics_modules(tmp_path: Path) -> None:
    first = await start_in_process(tmp_path)  # a new database: migrated, in a child process
    assert first["lazy"] == []
    second = await start_in_process(tmp_path)
    # No Alembic, Mako, PyJWT, pwdlib, argon2, prometheus_client, and with telnet off no
    # telnetlib3; on SQLite no PostgreSQL dialect package and no asyncpg.
    assert second["lazy"] == []
    assert set(second["phases"]) >= {"world", "database", "migrations", "seeding", "first_tick"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(http: httpx2.AsyncClient, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(90):
        while process.returncode is None:
            with contextlib.suppress(httpx2.TransportError):
                if (await http.get("/api/monitoring/health")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError("the server exited before it answered")


async def admin_stats(http: httpx2.AsyncClient) -> dict[str, Any]:
    account = {"username": "phaseadmin", "password": "phase-admin-password"}
    (await http.post("/api/auth/register", json=account)).raise_for_status()
    login = await http.post("/api/auth/login", data=account)
    token = login.json()["access_token"]
    stats = await http.get("/api/monitoring/stats", headers={"Authorization": f"Bearer {token}"})
    stats.raise_for_status()
    result: dict[str, Any] = stats.json()
    return result


async def test_a_server_logs_its_start_up_phases_once_and_shows_them_in_stats(
    tmp_path: Path,
) -> None:
    port, log_path = free_port(), tmp_path / "server.log"
    env = kadath_env(tmp_path, log_level="INFO", log_json="true")
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "kadath", "serve", "--host", "127.0.0.1", "--port", str(port)),
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        async with httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30
        ) as http:
            await wait_healthy(http, process)
            stats = await admin_stats(http)
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await process.wait()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if "{" in line[:1]]
    phase_lines = [line for line in lines if line.get("event") == "startup_phases"]
    assert len(phase_lines) == 1, log_path.read_text()
    phases = phase_lines[0]["phases_ms"]
    assert list(phases) == SERVE_PHASES
    assert all(ms >= 0 for ms in phases.values())
    assert list(phase_lines[0]["phases_cpu_ms"]) == SERVE_PHASES
    assert list(phase_lines[0]["phases_rss_kib"]) == SERVE_PHASES
    assert phase_lines[0]["total_ms"] >= phases["interpreter"] > 0
    assert stats["startup_ms"] == phases


async def test_the_cli_imports_the_server_only_to_serve() -> None:
    probe = (
        "import json, sys, kadath.cli\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, stdout=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    loaded = set(json.loads(out))
    assert "kadath" in loaded
    assert not loaded & {"uvicorn", "fastapi", "sqlalchemy", "alembic", "pydantic_settings"}


SERVE_AND_PROBE_THE_COLLECTOR = """
import gc, json, sys
from kadath import cli
from kadath.server import KadathServer

listening = KadathServer.startup

async def startup(self, sockets=None):
    off_while_starting = not gc.isenabled()
    await listening(self, sockets)
    print(json.dumps({"off_while_starting": off_while_starting, "enabled": gc.isenabled(),
                      "frozen": gc.get_freeze_count(),
                      "thresholds": gc.get_threshold()}), flush=True)
    self.should_exit = True

KadathServer.startup = startup
sys.exit(cli.main(["serve", "--host", "127.0.0.1", "--port", sys.argv[1]]))
"""


async def test_the_collector_is_off_while_starting_and_on_once_listening(tmp_path: Path) -> None:
    """Off while starting, then on with the serving thresholds (full collections of a
    thousand players' objects are loop stalls: rarer than CPython's defaults make them)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE_AND_PROBE_THE_COLLECTOR,
        str(free_port()),
        env=kadath_env(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(90):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    probe = json.loads(next(line for line in out.decode().splitlines() if line.startswith("{")))
    assert probe["off_while_starting"]
    assert probe["enabled"]
    assert probe["frozen"] > 0
    assert tuple(probe["thresholds"]) == (20_000, 20, 20)  # kadath.server.SERVING_GC_THRESHOLDS
