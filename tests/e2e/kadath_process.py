"""Kadath as real subprocesses, for fault tests: ``python -m kadath serve`` that a test can kill
(SIGKILL: a crash) or stop (SIGTERM: an orderly shutdown), and ``kadath db check``.

Settings reach the subprocess through ``KADATH_*`` variables; each server gets a free port of
its own on every start. Its output goes to a log file, named in every failure."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx2
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kadath.persistence.models import ItemRow, PlayerRow

# Cheap hashing, no login limit worth the name, a quick grace, quiet logs: as kadath_e2e.
TEST_ENV = {
    "KADATH_ARGON2_TIME_COST": "1",
    "KADATH_ARGON2_MEMORY_COST": "1024",
    "KADATH_LOGIN_RATE_LIMIT": "1000/minute",
    "KADATH_REGISTRATION_RATE_LIMIT": "1000/minute",
    "KADATH_TELNET_PORT": "0",
    "KADATH_RECONNECT_GRACE_SECONDS": "0.5",
    "KADATH_PASSWORD_HASH_THREADS": "2",
    "KADATH_LOG_LEVEL": "WARNING",
    "KADATH_NPC_SPAWNING": "false",
}


def process_env(data_dir: Path, database_url: str, **settings: Any) -> dict[str, str]:
    """The environment for a subprocess: ours, minus any KADATH_* of the caller's, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    env.update(TEST_ENV)
    env["KADATH_DATA_DIR"] = str(data_dir)
    env["KADATH_DATABASE_URL"] = database_url
    env.update({f"KADATH_{key.upper()}": str(value) for key, value in settings.items()})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``python -m kadath serve`` on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, within: float = 60.0) -> None:
        """Start and wait until it answers; a port taken meanwhile is retried on another."""
        for _ in range(3):
            if await self._try_start(within):
                return
        raise RuntimeError(f"the server did not start; see {self.log_path}")

    async def _try_start(self, within: float) -> bool:
        self.port = free_port()
        self._log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "kadath",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            env=self.env,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with httpx2.AsyncClient(timeout=2, trust_env=False) as http, asyncio.timeout(within):
            while self._process.returncode is None:
                with contextlib.suppress(httpx2.TransportError):
                    response = await http.get(f"{self.base_url}/api/monitoring/health")
                    if response.status_code == 200:
                        return True
                await asyncio.sleep(0.05)
        await self._reap()
        return False

    async def kill(self) -> None:
        """SIGKILL: the process dies at once, wherever it was."""
        await self._signal(signal.SIGKILL)
        await self._reap()

    async def terminate(self, within: float = 60.0) -> int:
        """SIGTERM, then wait for the orderly exit; returns the exit status."""
        await self._signal(signal.SIGTERM)
        assert self._process is not None
        async with asyncio.timeout(within):
            code = await self._process.wait()
        await self._reap()
        return code

    async def _signal(self, number: int) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(number)

    async def _reap(self) -> None:
        if self._process is not None:
            await self._process.wait()
        if self._log is not None:
            self._log.close()
        self._process, self._log = None, None

    async def aclose(self) -> None:
        await self.kill()


@dataclass(frozen=True)
class CheckResult:
    returncode: int
    output: str


async def db_check(env: dict[str, str], within: float = 60.0) -> CheckResult:
    """Run ``python -m kadath db check`` as the real command."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kadath",
        "db",
        "check",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(within):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return CheckResult(process.returncode, out.decode())


@dataclass(frozen=True)
class AtRest:
    """What the database holds: each item's places (normally one), each character's progress."""

    places: dict[str, list[str]]  # item id -> where it is
    progress: dict[str, tuple[int, int]]  # player id -> (experience, level)
    rooms: dict[str, str]  # player id -> room id


async def at_rest(database_url: str) -> AtRest:
    """Read the database on an engine of its own (the server may be dead)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            items = (
                await conn.execute(
                    sa.select(
                        ItemRow.id, ItemRow.owner_player_id, ItemRow.container_id, ItemRow.room_id
                    )
                )
            ).all()
            players = (
                await conn.execute(
                    sa.select(
                        PlayerRow.id, PlayerRow.experience, PlayerRow.level, PlayerRow.room_id
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    places: dict[str, list[str]] = {}
    for item_id, *where in items:
        places.setdefault(str(item_id), []).extend(str(w) for w in where if w is not None)
    return AtRest(
        places,
        {str(p[0]): (int(p[1]), int(p[2])) for p in players},
        {str(p[0]): str(p[3]) for p in players},
    )
