"""End-to-end helpers: a real Kadath server on a loopback port, and clients that talk to it.

``RunningServer`` runs uvicorn (Kadath's own ``KadathServer``, as ``kadath serve`` does) as a
task in the test's event loop; ``Api`` speaks the REST API over httpx2; ``GameClient`` speaks the
game protocol over a real WebSocket. Every wait is bounded by a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kadath.bootstrap import create_app
from kadath.cli import KadathServer
from kadath.settings import Settings

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]
PASSWORD = "correct horse battery"
WAIT = 5.0
WS_MAX_SIZE = 64 * 1024


def server_settings(**values: Any) -> Settings:
    """Settings for a test server: cheap hashing, no login limit worth the name, quick grace."""
    defaults: dict[str, Any] = {
        "argon2_time_cost": 1,
        "argon2_memory_cost": 1024,
        "login_rate_limit": "1000/minute",
        "registration_rate_limit": "1000/minute",
        "reconnect_grace_seconds": 0.5,
        "password_hash_threads": 2,
        "log_level": "WARNING",
        "npc_spawning": False,  # creatures wander and fight: tests that want them opt in
        "telnet_port": 0,  # off unless a test asks for a free port
    }
    defaults.update(values)
    return Settings(_env_file=None, **defaults)  # type: ignore[call-arg]


class RunningServer:
    """A Kadath server on ``127.0.0.1`` that can be stopped and started again on the same data."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def app(self) -> Any:
        """The FastAPI app being served (its ``state.runtime`` is the live game)."""
        assert self._server is not None
        return self._server.config.app

    async def start(self, within: float = 30.0) -> None:
        """Bind a port (the previous one again after a restart, if it is free) and serve."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.port))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.settings),
            log_config=None,
            ws_max_size=WS_MAX_SIZE,
            lifespan="on",
            proxy_headers=False,
            timeout_graceful_shutdown=5,
        )
        self._server = server = KadathServer(config)
        self._socket = sock
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="kadath-e2e-server")
        async with asyncio.timeout(within):
            while not server.started:
                if self._task.done():
                    await self._task  # raises what the start-up raised
                    raise RuntimeError("the server stopped before it started")
                await asyncio.sleep(0.01)

    async def stop(self, within: float = 30.0) -> None:
        """Stop as SIGTERM would: players told, connections closed, everyone saved."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, within)
        finally:
            if self._socket is not None:
                self._socket.close()
            self._server = self._task = self._socket = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class Api:
    """The REST API, as a player's browser would use it."""

    def __init__(self, client: httpx2.AsyncClient) -> None:
        self.http = client
        self.admin: Account | None = None  # set by the fixture that registers the first account

    @classmethod
    def to(cls, base_url: str) -> Api:
        return cls(httpx2.AsyncClient(base_url=base_url, timeout=WAIT * 2, trust_env=False))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def register(self, username: str, password: str = PASSWORD, **extra: Any) -> Frame:
        response = await self.http.post(
            "/api/auth/register", json={"username": username, "password": password, **extra}
        )
        assert response.status_code == 201, response.text
        body: Frame = response.json()
        return body

    async def login(self, username: str, password: str = PASSWORD) -> str:
        response = await self.http.post(
            "/api/auth/login", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def profession_id(self) -> int:
        response = await self.http.get("/api/professions")
        assert response.status_code == 200, response.text
        # the profession asking least of the dice, so a rolled character always qualifies
        ranked = sorted(response.json(), key=lambda p: sum(p["requirements"].values()))
        return int(ranked[0]["id"])

    async def admin_stats(self) -> Frame:
        assert self.admin is not None
        response = await self.http.get("/api/monitoring/stats", headers=bearer(self.admin.token))
        assert response.status_code == 200, response.text
        body: Frame = response.json()
        return body

    async def create_character(self, token: str, name: str) -> Frame:
        response = await self.http.post(
            "/api/players",
            json={"name": name, "profession_id": await self.profession_id()},
            headers=bearer(token),
        )
        assert response.status_code == 201, response.text
        body: Frame = response.json()
        return body


StartServer = Callable[..., Awaitable["RunningServer"]]
Connect = Callable[..., Awaitable["GameClient"]]
NewCharacter = Callable[..., Awaitable["Character"]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique_name(prefix: str = "T") -> str:
    """A valid, almost surely unique name (letters only, so it suits accounts and characters)."""
    letters = "".join(chr(97 + b % 26) for b in uuid.uuid4().bytes[:9])
    return prefix + letters


@dataclass(frozen=True)
class Account:
    username: str
    token: str
    is_admin: bool


@dataclass(frozen=True)
class Character:
    account: Account
    name: str
    id: str
    room_id: str

    @property
    def token(self) -> str:
        return self.account.token


async def new_account(api: Api, username: str | None = None) -> Account:
    username = username or unique_name("u")
    body = await api.register(username)
    return Account(username, await api.login(username), bool(body["is_admin"]))


async def new_character(api: Api, account: Account | None = None) -> Character:
    account = account or await new_account(api)
    name = unique_name()
    body = await api.create_character(account.token, name)
    return Character(account, str(body["name"]), str(body["id"]), str(body["room_id"]))


class Closed(Exception):
    """The server closed the connection while a frame was awaited."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"connection closed: {code} {reason!r}")
        self.code, self.reason = code, reason


class GameClient:
    """One WebSocket connection speaking the game protocol.

    Frames are read on demand. ``received`` keeps every frame in arrival order; ``pending``
    holds those no ``wait_for``/``command`` has taken yet, so a wait for one kind of frame
    never loses the others."""

    def __init__(self, ws: ClientConnection, name: str = "") -> None:
        self.ws, self.name = ws, name
        self.received: list[Frame] = []
        self.pending: deque[Frame] = deque()
        self.meanwhile: list[Frame] = []
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, ws_url: str, name: str = "") -> GameClient:
        ws = await connect(ws_url, proxy=None, open_timeout=WAIT, close_timeout=2)
        return cls(ws, name)

    # -- sending -----------------------------------------------------------------------------
    async def send_json(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, text: str) -> None:
        await self.ws.send(text)

    async def send_command(self, text: str, frame_id: str | None = None) -> str:
        frame_id = frame_id or f"c{next(self._ids)}"
        await self.send_json({"type": "command", "id": frame_id, "text": text})
        return frame_id

    # -- receiving ---------------------------------------------------------------------------
    async def _receive(self, within: float) -> Frame:
        try:
            raw = await asyncio.wait_for(self.ws.recv(), within)
        except ConnectionClosed:
            raise Closed(self.ws.close_code, self.ws.close_reason or "") from None
        frame: Frame = json.loads(raw)
        self.received.append(frame)
        self.pending.append(frame)
        return frame

    async def wait_for(self, predicate: Predicate, within: float = WAIT) -> Frame:
        """The first pending frame matching ``predicate`` (taken out of ``pending``)."""
        async with asyncio.timeout(within):
            while True:
                for frame in self.pending:
                    if predicate(frame):
                        self.pending.remove(frame)
                        return frame
                await self._receive(within)

    async def wait_event(self, event: str, within: float = WAIT) -> Frame:
        return await self.wait_for(
            lambda f: f.get("type") == "event" and f.get("event") == event, within
        )

    async def wait_message(self, channel: str, within: float = WAIT) -> Frame:
        return await self.wait_for(
            lambda f: f.get("type") == "message" and f.get("channel") == channel, within
        )

    async def wait_type(self, kind: str, within: float = WAIT) -> Frame:
        return await self.wait_for(lambda f: f.get("type") == kind, within)

    async def hello(self, token: str, player: str) -> Frame:
        """Greet; returns the welcome frame. Raises Closed or AssertionError when refused."""
        await self.send_json({"type": "hello", "token": token, "player": player})
        frame = await self.wait_for(lambda f: f.get("type") in ("welcome", "error"))
        assert frame["type"] == "welcome", frame
        self.name = player
        return frame

    async def command(self, text: str, within: float = WAIT) -> Frame:
        """Send a command and return its reply; other frames that came first stay pending and
        are also listed in ``meanwhile``."""
        before = len(self.received)
        frame_id = await self.send_command(text)
        reply = await self.wait_for(
            lambda f: f.get("type") == "reply" and f.get("re") == frame_id, within
        )
        self.meanwhile = [f for f in self.received[before:] if f is not reply]
        return reply

    async def sync(self, within: float = WAIT) -> list[Frame]:
        """A barrier: ping and wait for the pong. Whatever the server queued for this client
        before it read the ping has then arrived; returns (and takes) every pending frame."""
        await self.send_json({"type": "ping"})
        await self.wait_type("pong", within)
        taken = list(self.pending)
        self.pending.clear()
        return taken

    async def drain(self, quiet: float = 0.3) -> list[Frame]:
        """Read until nothing arrives for ``quiet`` seconds; returns (and takes) what is pending."""
        try:
            while True:
                await self._receive(quiet)
        except TimeoutError:
            pass
        taken = list(self.pending)
        self.pending.clear()
        return taken

    async def wait_closed(self, within: float = WAIT) -> tuple[int | None, str]:
        """Read (keeping frames) until the server closes; returns the close code and reason."""
        async with asyncio.timeout(within):
            while True:
                try:
                    await self._receive(within)
                except Closed as closed:
                    return closed.code, closed.reason

    async def close(self) -> None:
        await self.ws.close()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake, as a lost network would."""
        transport = self.ws.transport
        transport.abort()

    @property
    def seqs(self) -> list[int]:
        return [int(f["seq"]) for f in self.received if "seq" in f]


def is_event(event: str, name: str | None = None) -> Predicate:
    def match(frame: Frame) -> bool:
        return (
            frame.get("type") == "event"
            and frame.get("event") == event
            and (name is None or frame.get("name") == name)
        )

    return match


def events(frames: list[Frame], *kinds: str) -> list[Frame]:
    return [f for f in frames if f.get("type") == "event" and f.get("event") in kinds]


def messages(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.get("type") == "message"]


PG_URL = os.environ.get("KADATH_TEST_POSTGRES_URL")


def root_conftest(config: Any) -> Any:
    """tests/conftest.py as pytest loaded it (conftests are not importable by name)."""
    wanted = Path(__file__).resolve().parent.parent / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == wanted:
            return plugin
    raise LookupError(f"{wanted} is not loaded")


@contextlib.asynccontextmanager
async def starting_servers(
    backend: str,
    tmp_path: Path,
    config: Any,
    each: Callable[[], dict[str, Any]] = dict,
) -> AsyncIterator[StartServer]:
    """``start(**overrides)`` starts a server on a fresh database of ``backend`` (settings:
    ``each()``, made anew for every server, then the overrides); every server is stopped and
    its database dropped at exit."""
    servers: list[RunningServer] = []
    async with contextlib.AsyncExitStack() as databases:

        async def start(**overrides: Any) -> RunningServer:
            data_dir = tmp_path / f"server{len(servers)}"
            if backend == "postgresql":
                assert PG_URL is not None
                fresh = root_conftest(config).fresh_postgres_database
                url = await databases.enter_async_context(fresh(PG_URL))
            else:
                url = f"sqlite+aiosqlite:///{data_dir / 'kadath.db'}"
            values = {**each(), **overrides}
            server = RunningServer(server_settings(data_dir=data_dir, database_url=url, **values))
            servers.append(server)
            await server.start()
            return server

        try:
            yield start
        finally:
            for server in reversed(servers):
                await server.stop()
