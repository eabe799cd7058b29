"""A private PostgreSQL cluster for tests that stop and start the database: initdb'd in a
temporary directory, served on a free loopback port, run as the ``postgres`` OS user.

Every pg_ctl call runs as a subprocess awaited by asyncio, so the event loop (and the server
under test sharing it) never blocks."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

OS_USER = "postgres"


def binaries() -> Path | None:
    """The newest PostgreSQL bin directory on this machine, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be started here, or None when it can."""
    if binaries() is None:
        return "no PostgreSQL binaries under /usr/lib/postgresql"
    if shutil.which("runuser") is None or os.geteuid() != 0:
        return "a private cluster needs root (to run it as the postgres user)"
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        return "no postgres OS user"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateCluster:
    def __init__(self, root: Path, bin_dir: Path, port: int) -> None:
        self.root, self._bin, self.port = root, bin_dir, port
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/kadath"

    async def _run(self, tool: str, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            "runuser",
            "-u",
            OS_USER,
            "--",
            str(self._bin / tool),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {output.decode()[-2000:]}")

    async def init(self) -> None:
        await self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N")

    async def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        await self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start"
        )

    async def stop(self, mode: str = "fast") -> None:
        await self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    async def create_database(self) -> None:
        await self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            "CREATE DATABASE kadath",
        )


@contextlib.asynccontextmanager
async def private_cluster() -> AsyncIterator[PrivateCluster]:
    """A running cluster with an empty ``kadath`` database; stopped and deleted afterwards,
    whatever happened."""
    bin_dir = binaries()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="kadath-pg-"))
    shutil.chown(root, OS_USER, OS_USER)
    cluster = PrivateCluster(root, bin_dir, free_port())
    try:
        await cluster.init()
        await cluster.start()
        await cluster.create_database()
        yield cluster
    finally:
        with contextlib.suppress(RuntimeError):
            await cluster.stop("immediate")
        await asyncio.to_thread(shutil.rmtree, root, True)
