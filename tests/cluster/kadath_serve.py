"""Test parts for ``kadath serve --cluster``: two processes sharing one world, each holding
different zones (pinned), a REST client to make characters and a WebSocket game client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import sqlalchemy as sa
from kadath_cluster import (
    SLACK_SECONDS,
    ServeProcess,
    cluster_config,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kadath.cluster.zones import pin, zone_statuses
from kadath.persistence.engine import create_engine
from kadath.world import DEFAULT_WORLD_DIR, load_world

WORLD = load_world(DEFAULT_WORLD_DIR)
ZONES = sorted(WORLD.zones)
START_ZONE = WORLD.rooms[WORLD.start_room_id].zone_id  # where every new character stands
WAIT = 15.0  # one frame's wait on a loaded machine (a bound, not a measure)
Frame = dict[str, Any]


@dataclass
class Cluster:
    alpha: ServeProcess  # holds every zone but the start zone
    beta: ServeProcess  # holds the start zone (pinned)
    http: httpx2.AsyncClient  # alpha's REST API


@contextlib.asynccontextmanager
async def starting_cluster(
    database_url: str, nats_url: str, logs: Path, *, advertise: tuple[str, ...] = (), **env: str
) -> AsyncIterator[Cluster]:
    """alpha and beta up (beta holding the start zone, alpha the others, all pinned), with
    ``env`` (``KADATH_*`` settings) on top of the test settings; both killed at exit. Those
    named in ``advertise`` set ``KADATH_PUBLIC_URL`` to their WebSocket URL."""
    config = cluster_config(database_url, nats_url, "test")
    await pin(config, ZONES, START_ZONE, "beta")
    for zone in ZONES:
        if zone != START_ZONE:
            await pin(config, ZONES, zone, "alpha")
    alpha = ServeProcess("alpha", database_url, nats_url, logs)
    alpha.env["KADATH_TELNET_PORT"] = str(alpha.telnet_port)  # MUD clients too, on alpha
    beta = ServeProcess("beta", database_url, nats_url, logs)
    for process in (alpha, beta):
        process.env.update(env)
        process.advertise = process.engine_id in advertise
    async with httpx2.AsyncClient(timeout=WAIT, trust_env=False) as http:
        try:
            async with asyncio.timeout(180):
                await alpha.start()  # the first seeds the world (the database is at head)
                await beta.start()
            owners = {s.zone: s.owner for s in await zone_statuses(config, ZONES)}
            assert owners[START_ZONE] == "beta", owners
            assert all(owners[z] == "alpha" for z in ZONES if z != START_ZONE), owners
            http.base_url = httpx2.URL(alpha.base_url)
            yield Cluster(alpha, beta, http)
        finally:
            await alpha.close()
            await beta.close()


async def new_character(http: httpx2.AsyncClient) -> tuple[str, str]:
    """(token, character name) of a fresh account's fresh character, made on alpha."""
    letters = "".join(chr(97 + b % 26) for b in uuid.uuid4().bytes[:9])
    username, password = "u" + letters, "correct horse battery"
    response = await http.post(
        "/api/auth/register", json={"username": username, "password": password}
    )
    assert response.status_code == 201, response.text
    response = await http.post("/api/auth/login", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token = str(response.json()["access_token"])
    professions = (await http.get("/api/professions")).json()
    easiest = min(professions, key=lambda p: sum(p["requirements"].values()))
    response = await http.post(
        "/api/players",
        json={"name": "C" + letters, "profession_id": easiest["id"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["room_id"] == WORLD.start_room_id
    return token, str(response.json()["name"])


class Client:
    """One WebSocket speaking the game protocol; keeps every frame it received."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[Frame] = []
        self.pending: list[Frame] = []
        self._ids = 0

    @classmethod
    async def open(cls, url: str) -> Client:
        return cls(await connect(url, proxy=None, open_timeout=WAIT, close_timeout=2))

    async def hello(
        self, token: str, name: str, within: float = WAIT, *, follow: bool = False
    ) -> Frame:
        """Say hello (with ``follow``, protocol 4's); the welcome, error or ``moved``."""
        hello: Frame = {"type": "hello", "token": token, "player": name}
        if follow:
            hello["follow"] = True
        await self.ws.send(json.dumps(hello))
        return await self.wait_for(lambda f: f.get("type") in ("welcome", "error", "moved"), within)

    async def wait_for(self, wanted: Any, within: float = WAIT) -> Frame:
        async with asyncio.timeout(within):
            while True:
                for frame in self.pending:
                    if wanted(frame):
                        self.pending.remove(frame)
                        return frame
                frame = json.loads(await self.ws.recv())
                self.received.append(frame)
                self.pending.append(frame)

    async def command(self, text: str, within: float = WAIT) -> Frame:
        frame_id = await self.send_command(text)
        return await self.wait_for(
            lambda f: f.get("type") == "reply" and f.get("re") == frame_id, within
        )

    async def send_command(self, text: str) -> str:
        """Send a command without waiting for its reply; its id."""
        self._ids += 1
        frame_id = f"c{self._ids}"
        await self.ws.send(json.dumps({"type": "command", "id": frame_id, "text": text}))
        return frame_id

    async def closed(self, within: float = WAIT + SLACK_SECONDS) -> int | None:
        """Read until the server closes; the close code."""
        async with asyncio.timeout(within):
            while True:
                try:
                    frame = json.loads(await self.ws.recv())
                except ConnectionClosed:
                    return self.ws.close_code
                self.received.append(frame)
                self.pending.append(frame)

    @property
    def seqs(self) -> list[int]:
        return [int(frame["seq"]) for frame in self.received]


def rest(base_url: str) -> httpx2.AsyncClient:
    """A REST client of the process at ``base_url`` (to sign up and make characters)."""
    return httpx2.AsyncClient(base_url=base_url, timeout=WAIT, trust_env=False)


@contextlib.asynccontextmanager
async def in_play(
    http: httpx2.AsyncClient, *urls: str, admin_in: str | None = None
) -> AsyncIterator[list[tuple[Client, str]]]:
    """A fresh character for each of ``urls``, welcomed on a client connected to it: (client,
    character name) each, in order; every client closed at exit. With ``admin_in`` (the
    database URL), the first character's account is made an admin before it enters play."""
    made = [await new_character(http) for _ in urls]
    if admin_in is not None:
        await make_admin(admin_in, made[0][1])
    clients: list[Client] = []
    try:
        for url in urls:
            clients.append(await Client.open(url))
        for client, (token, name) in zip(clients, made, strict=True):
            assert (await client.hello(token, name))["type"] == "welcome"
        yield [(client, name) for client, (_, name) in zip(clients, made, strict=True)]
    finally:
        for client in clients:
            with contextlib.suppress(Exception):  # a killed process's client too
                await client.ws.close()


def heard_on(channel: str) -> Callable[[Frame], bool]:
    """``Client.wait_for``'s test for a message on ``channel``."""
    return lambda f: f.get("type") == "message" and f.get("channel") == channel


async def walk(client: Client, first: str, then: str, room: str) -> None:
    """Two commands sent one right after the other's reply; the client ends up in ``room``."""
    reply = await client.command(first)
    assert reply["ok"] is True, reply
    reply = await client.command(then)
    assert reply["ok"] is True, reply
    assert (await client.command("look"))["ok"] is True
    await client.wait_for(lambda f: f.get("type") == "room" and f["room"]["id"] == room)


async def stored_room(database_url: str, name: str) -> str:
    """The room the character ``name`` is stored in."""
    database = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with database.connect() as conn:
            room = await conn.scalar(
                sa.text("SELECT room_id FROM players WHERE name = :name"), {"name": name}
            )
            return str(room)
    finally:
        await database.dispose()


async def make_admin(database_url: str, name: str) -> None:
    """The account of the character ``name`` becomes an admin (before it enters play)."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "UPDATE accounts SET role = 'admin' WHERE id = "
                    "(SELECT account_id FROM players WHERE name = :name)"
                ),
                {"name": name},
            )
    finally:
        await engine.dispose()
