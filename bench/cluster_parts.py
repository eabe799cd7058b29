"""Parts of the cluster benchmarks (bench/cluster.py): a private ``nats-server -js`` with its
monitoring port, a fresh PostgreSQL database migrated to head, and ``kadath serve [--cluster]``
subprocesses. The same ideas as tests/cluster/kadath_cluster.py, kept apart so that bench code
does not import the tests. Everything listens on loopback, on free ports; nothing shared (the
NATS server on 4222, ports 8000/4000) is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.persistence import migrate
from kadath.persistence.engine import create_engine

CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = Path(__file__).resolve().parent
# One signing key for every process, so a token made by one is good on the others.
SECRET_KEY = "cluster-bench-signing-key-" + "k" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc; None when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def nats_server_binary() -> str | None:
    """Debian installs it in /usr/sbin, which not every PATH has."""
    found = shutil.which("nats-server")
    if found is None and Path("/usr/sbin/nats-server").exists():
        found = "/usr/sbin/nats-server"
    return found


class PrivateNats:
    """``nats-server -js`` on a free port with its own store, and its monitoring endpoint
    (``-m``) on another free port, for ``/varz``'s message and byte counters."""

    def __init__(self, root: Path) -> None:
        self.store = root / "jetstream"
        self.store.mkdir(parents=True)
        self.port, self.monitor_port = free_port(), free_port()
        self.log_path = root / "nats.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not running"
        return self.process.pid

    async def start(self, within: float = 30.0) -> None:
        binary = nats_server_binary()
        if binary is None:
            raise RuntimeError("nats-server is not installed (.ci/run installs it)")
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                "-m", str(self.monitor_port), "-sd", str(self.store),
                stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + within
        async with httpx2.AsyncClient(timeout=2, trust_env=False) as http:
            while time.monotonic() < deadline and self.process.returncode is None:
                with contextlib.suppress(httpx2.HTTPError):
                    if (await http.get(self._varz_url)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"nats-server did not start; see {self.log_path}")

    @property
    def _varz_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}/varz"

    async def varz(self) -> dict[str, Any]:
        async with httpx2.AsyncClient(timeout=5, trust_env=False) as http:
            response = await http.get(self._varz_url)
            response.raise_for_status()
            data: dict[str, Any] = response.json()
            return data

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.asynccontextmanager
async def private_nats(root: Path) -> AsyncIterator[PrivateNats]:
    server = PrivateNats(root)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def migrated_database(server_url: str) -> AsyncIterator[str]:
    """A uniquely named database on ``server_url``'s server, at the newest migration; dropped
    afterwards. Yields its URL."""
    name = f"kadath_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


# Cheap hashing, no rate limits in the way, no telnet, no NPCs (every ``serve --cluster``
# process still runs NPCs for every zone: they would be counted once per process), quiet logs.
NODE_ENV = {
    "KADATH_ARGON2_TIME_COST": "1",
    "KADATH_ARGON2_MEMORY_COST": "8",
    "KADATH_LOGIN_RATE_LIMIT": "100000/minute",
    "KADATH_REGISTRATION_RATE_LIMIT": "100000/minute",
    "KADATH_PASSWORD_HASH_QUEUE": "100000",
    "KADATH_UNAUTHENTICATED_CONNECTIONS_PER_IP": "100000",
    "KADATH_COMMAND_RATE": "1000/second",
    "KADATH_TELNET_PORT": "0",
    "KADATH_NPC_SPAWNING": "false",
    "KADATH_LOG_LEVEL": "WARNING",
    "KADATH_LOG_JSON": "true",
    "KADATH_DB_POOL_SIZE": "10",
    "KADATH_DB_MAX_OVERFLOW": "0",
    "KADATH_SECRET_KEY": SECRET_KEY,
}


class Node:
    """``python -m kadath serve [--cluster]`` on a free loopback port; always stopped. With
    ``command`` set to ``["engine"]``, ``python -m kadath engine`` (no listener)."""

    def __init__(
        self, name: str, database_url: str, nats_url: str | None, root: Path, **env: str
    ) -> None:
        self.name = name
        self.data_dir = root / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{name}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
        self.env.update(NODE_ENV)
        self.env.update(
            KADATH_DATABASE_URL=database_url,
            KADATH_DATA_DIR=str(self.data_dir),
            KADATH_ENGINE_ID=name,
            **env,
        )
        self.cluster = nats_url is not None
        if nats_url is not None:
            self.env["KADATH_NATS_URL"] = nats_url
        self.command = ["serve", "--cluster"] if self.cluster else ["serve"]
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.cprofile: Path | None = None  # run under cProfile (bench/load_serve.py), stats here

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, within: float = 120.0) -> None:
        """Start, and wait until it says it is ready (a cluster node holds its zones by then);
        an engine, which has no listener, is only started."""
        listens = self.command != ["engine"]
        address = ["--host", "127.0.0.1", "--port", str(self.port)] if listens else []
        program = [sys.executable, "-m", "kadath"]
        if self.cprofile is not None:
            self.env["KADATH_BENCH_CPROFILE"] = str(self.cprofile)
            program = [sys.executable, str(HERE / "load_serve.py")]
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *program, *self.command, *address,
                env=self.env, cwd=self.data_dir, stdout=log, stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        if not listens:
            return
        async with httpx2.AsyncClient(timeout=2, trust_env=False) as http:
            deadline = time.monotonic() + within
            while time.monotonic() < deadline and self.process.returncode is None:
                with contextlib.suppress(httpx2.HTTPError):
                    response = await http.get(f"{self.base_url}/api/monitoring/ready")
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start; see {self.log_path}")

    async def stop(self) -> int | None:
        """SIGTERM (a cluster node gives its zones back), then SIGKILL after 30 s."""
        process = self.process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        return process.returncode

    def warnings(self) -> list[str]:
        """The log's warning and error lines (the nodes log at WARNING), the last few."""
        with contextlib.suppress(OSError):
            lines = self.log_path.read_text(errors="replace").splitlines()
            return [line[:300] for line in lines if line.strip()][-5:]
        return []
