"""Cluster test parts: a private ``nats-server -js`` that a test may stop and start again on the
same port and store, a uniquely named PostgreSQL database migrated to head, and ``kadath
engine`` as a real subprocess whose JSON log lines the test reads back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any

import httpx2
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.cluster.config import ClusterConfig
from kadath.cluster.zones import zone_statuses
from kadath.persistence import migrate
from kadath.persistence.engine import create_engine
from kadath.settings import Settings

PG_URL = os.environ.get("KADATH_TEST_POSTGRES_URL")
# Short leases so that failover fits in a test; the lease is three renewal periods and more.
LEASE_SECONDS = 6.0
RENEW_SECONDS = 1.5
# A loaded 2-core machine may start a subprocess or answer a request seconds late: every wait
# for something that must happen gets this much on top of the bound it checks.
SLACK_SECONDS = 20.0


def nats_server_binary() -> str | None:
    """Debian installs it in /usr/sbin, which not every PATH has."""
    found = shutil.which("nats-server")
    if found is None and Path("/usr/sbin/nats-server").exists():
        found = "/usr/sbin/nats-server"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateNats:
    """``nats-server -js`` on its own port and store directory; ``stop`` and ``start`` again
    keep both, as a restarted server would."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = free_port()
        self.log_path = store.parent / f"nats-{self.port}.log"
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "not running"
        return self._process.pid

    async def start(self, within: float = 30.0) -> None:
        assert self._process is None
        self._log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            nats_server_binary() or "nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port),
            "-sd", str(self.store), stdout=self._log, stderr=self._log,
        )  # fmt: skip
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self._process.returncode is not None:
                break
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"nats-server did not start; see {self.log_path}")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.asynccontextmanager
async def private_nats(root: Path) -> AsyncIterator[PrivateNats]:
    if nats_server_binary() is None:
        raise RuntimeError("nats-server is not installed (.ci/run installs it)")
    store = root / "jetstream"
    store.mkdir(parents=True)
    server = PrivateNats(store)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def migrated_database(server_url: str) -> AsyncIterator[str]:
    """A uniquely named database at the newest migration; dropped afterwards."""
    name = f"kadath_cluster_{uuid.uuid4().hex[:10]}"
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


def cluster_config(
    database_url: str, nats_url: str, engine_id: str, lease_seconds: float = LEASE_SECONDS
) -> ClusterConfig:
    return ClusterConfig(
        database_url=database_url,
        nats_url=nats_url,
        engine_id=engine_id,
        lease_seconds=lease_seconds,
        renew_seconds=RENEW_SECONDS,
        bucket="kadath_zones",
    )


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.2
) -> float:
    """Wait until ``check()`` is true; the seconds it took. Fails after ``within`` seconds."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within:g}s: {what}")
        await asyncio.sleep(every)


class EngineProcess:
    """``python -m kadath engine`` with JSON logs in a file."""

    def __init__(self, engine_id: str, database_url: str, nats_url: str, logs: Path) -> None:
        self.engine_id = engine_id
        self.log_path = logs / f"engine-{engine_id}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
        self.env.update(
            {
                "KADATH_DATABASE_URL": database_url,
                "KADATH_NATS_URL": nats_url,
                "KADATH_ENGINE_ID": engine_id,
                "KADATH_ZONE_LEASE_SECONDS": str(LEASE_SECONDS),
                "KADATH_ZONE_RENEW_SECONDS": str(RENEW_SECONDS),
                "KADATH_LOG_JSON": "true",
                "KADATH_DATA_DIR": str(logs),
            }
        )
        self.env.update(SERVE_ENV)  # an engine runs the game: the same cheap test settings
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kadath", "engine",
                env=self.env, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def wait(self, within: float = 60.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)

    async def close(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)
            process.kill()
        await process.wait()

    def events(self, name: str) -> list[dict[str, Any]]:
        """The engine's log records whose event is ``name``."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("event") == name:
                    found.append(record)
        return found


# Cheap hashing, no login limit worth the name, no telnet, a quick reconnect grace, no NPCs
# (as tests/e2e's servers), and one signing key for every process of the cluster.
SERVE_ENV = {
    "KADATH_ARGON2_TIME_COST": "1",
    "KADATH_ARGON2_MEMORY_COST": "1024",
    "KADATH_LOGIN_RATE_LIMIT": "1000/minute",
    "KADATH_REGISTRATION_RATE_LIMIT": "1000/minute",
    "KADATH_TELNET_PORT": "0",
    "KADATH_RECONNECT_GRACE_SECONDS": "0.5",
    "KADATH_PASSWORD_HASH_THREADS": "1",
    "KADATH_NPC_SPAWNING": "false",
    "KADATH_SECRET_KEY": "cluster-test-signing-key-" + "k" * 32,
}


def serve_settings(database_url: str, nats_url: str, data_dir: Path) -> Settings:
    """The settings of a cluster process run in the test's own process (``SERVE_ENV``)."""
    values: dict[str, Any] = {k.removeprefix("KADATH_").lower(): v for k, v in SERVE_ENV.items()}
    values.update(database_url=database_url, nats_url=nats_url, data_dir=data_dir)
    return Settings(**values)


class ServeProcess(EngineProcess):
    """``python -m kadath serve --cluster`` on a free loopback port, JSON logs in a file."""

    def __init__(self, engine_id: str, database_url: str, nats_url: str, logs: Path) -> None:
        super().__init__(engine_id, database_url, nats_url, logs)
        self.log_path = logs / f"serve-{engine_id}.log"
        self.env.update(SERVE_ENV)
        self.env["KADATH_DATA_DIR"] = str(logs / engine_id)
        self.port = 0
        self.telnet_port = free_port()  # used only when KADATH_TELNET_PORT is set to it
        self.command = ["serve", "--cluster"]  # ["serve"]: a plain server, for comparison
        self.advertise = False  # KADATH_PUBLIC_URL set to its WebSocket URL (placement)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, within: float = 90.0) -> None:
        """Start and wait until it answers on HTTP (its first zones are held by then)."""
        self.port = free_port()
        if self.advertise:
            self.env["KADATH_PUBLIC_URL"] = self.ws_url
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kadath", *self.command,
                "--host", "127.0.0.1", "--port", str(self.port),
                env=self.env, stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        async with httpx2.AsyncClient(timeout=2, trust_env=False) as http:
            deadline = time.monotonic() + within
            while time.monotonic() < deadline and self.process.returncode is None:
                with contextlib.suppress(httpx2.TransportError):
                    response = await http.get(f"{self.base_url}/api/monitoring/health")
                    if response.status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"kadath serve --cluster did not start; see {self.log_path}")


def gateway(name: str, database_url: str, nats_url: str, logs: Path) -> ServeProcess:
    """``python -m kadath gateway``: holds no zone, relays every player."""
    process = ServeProcess(name, database_url, nats_url, logs)
    process.command = ["gateway"]
    process.log_path = logs / f"gateway-{name}.log"
    return process


async def holding_every_zone(
    engine: EngineProcess, config: ClusterConfig, zones: list[str], within: float
) -> None:
    """Wait until ``engine`` holds every zone of ``zones``, as recorded too; it must stay up."""

    async def holds_all() -> bool:
        assert engine.process is not None and engine.process.returncode is None
        statuses = await zone_statuses(config, zones)
        return all(s.owner == s.recorded_owner == engine.engine_id for s in statuses)

    await eventually(holds_all, within, f"{engine.engine_id} holds every zone")
