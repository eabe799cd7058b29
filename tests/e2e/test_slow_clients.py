"""A client that stops reading is closed within the send timeout and its character goes
link-dead as usual; the others play on. Shutdown completes, and saves, whatever it does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kadath_e2e import (
    Api,
    Character,
    Connect,
    GameClient,
    RunningServer,
    StartServer,
    bearer,
    new_character,
)
from stuck_client import StuckClient

SHOUT = "hear me " * 50  # a few hundred bytes per frame, so the stuck socket fills quickly


@dataclass
class Scene:
    api: Api
    stuck: StuckClient
    stuck_character: Character
    talkers: list[GameClient]
    characters: list[Character]


@contextlib.asynccontextmanager
async def scene(server: RunningServer) -> AsyncIterator[Scene]:
    """A client that greets and then never reads, and two who talk, all in the same room."""
    api = Api.to(server.base_url)
    clients: list[GameClient] = []
    stuck: StuckClient | None = None
    try:
        await new_character(api)  # the admin account is taken first
        stuck_character = await new_character(api)
        stuck = await StuckClient.greet(server.port, stuck_character.token, stuck_character.name)
        characters = [await new_character(api) for _ in range(2)]
        for character in characters:
            clients.append(await GameClient.open(server.ws_url, character.name))
            await clients[-1].hello(character.token, character.name)
        yield Scene(api, stuck, stuck_character, clients, characters)
    finally:
        if stuck is not None:
            stuck.close()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        await api.aclose()


async def _flood(client: GameClient, until: asyncio.Event, batch: int = 50) -> int:
    """Say things in batches (each waiting only for the batch's last reply) until told."""
    said = 0
    while not until.is_set():
        for _ in range(batch - 1):
            await client.send_command(f"say {SHOUT}")
        reply = await client.command(f"say {SHOUT}", within=10)
        assert reply["ok"], reply
        client.pending.clear()
        client.received.clear()
        said += batch
    return said


async def _flood_until(talkers: list[GameClient], done: object, within: float = 30) -> float:
    """Flood the room until ``done()`` is true; returns how long it took."""
    stop = asyncio.Event()
    floods = [asyncio.create_task(_flood(c, stop)) for c in talkers]
    started = time.monotonic()
    try:
        while not await done():  # type: ignore[operator]
            assert time.monotonic() - started < within, "never happened"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        said = await asyncio.gather(*floods)
    assert sum(said) > 0
    return time.monotonic() - started


async def test_a_client_that_stops_reading_is_closed_within_the_send_timeout(
    start_server: StartServer,
) -> None:
    server = await start_server(send_timeout_seconds=1.0, command_rate="1000/second")
    runtime = server.app.state.runtime
    async with scene(server) as s:

        async def dropped() -> bool:
            return runtime.game.presence.find(s.stuck_character.name) is None

        took = await _flood_until(s.talkers, dropped)
        # the others were never held up: a bystander's look is answered at once
        before = time.monotonic()
        assert (await s.talkers[0].command("look"))["ok"]
        assert time.monotonic() - before < 0.5
        assert runtime.hub.connected == 2
        await s.stuck.wait_reset(within=5)
        print(f"stuck client dropped and gone link-dead {took:.1f} s into the flood")


async def test_shutdown_saves_everyone_and_completes_while_a_client_never_reads(
    start_server: StartServer,
) -> None:
    server = await start_server(send_timeout_seconds=600.0, command_rate="1000/second")
    hub = server.app.state.runtime.hub
    async with scene(server) as s:
        stuck_id = s.stuck_character.id

        async def backed_up() -> bool:
            session = next(v for k, v in hub._sessions.items() if str(k) == stuck_id)
            return bool(session.backlog > 100)

        await _flood_until(s.talkers, backed_up)
        walker = s.talkers[0]
        await walker.command("east")
        assert (await walker.command("north"))["ok"]
        here = [f for f in walker.meanwhile if f["type"] == "room"][-1]["room"]["id"]

        started = time.monotonic()
        await server.stop(within=60)
        took = time.monotonic() - started
        assert took < 15, f"shutdown took {took:.1f} s"
        for talker in s.talkers:
            notice = await talker.wait_event("shutdown")
            assert "saved" in notice["text"]

        await server.start()
        s.api.http.base_url = server.base_url  # type: ignore[assignment]
        walker_id, token = s.characters[0].id, s.characters[0].token
        stored = await s.api.http.get(f"/api/players/{walker_id}", headers=bearer(token))
        assert stored.json()["room_id"] == here
        print(f"shutdown with a stuck client took {took:.1f} s")


async def test_once_shutdown_begins_no_command_or_new_player_is_taken(
    server: RunningServer, connect: Connect
) -> None:
    alice = await connect()
    server.app.state.runtime.hub.closing = True  # as the first step of a shutdown does
    reply = await alice.command("say hello")
    assert reply["ok"] is False and "shutting down" in reply["text"]
    client = await GameClient.open(server.ws_url)  # refused before it can even say hello
    error = await client.wait_type("error")
    assert error["code"] == "unavailable"
    assert (await client.wait_closed())[0] == 1012
