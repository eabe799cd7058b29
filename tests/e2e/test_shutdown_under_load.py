"""Shutdown under load: SIGTERM to a real server subprocess while 50 players are busy saves
everyone. Positions moved just before the signal (never yet written by the 5 s position saver)
are saved, every item stays where it was, and ``kadath db check`` passes afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kadath_e2e import Api, Character, Closed, GameClient, new_account, new_character, root_conftest
from kadath_process import AtRest, CheckResult, ServerProcess, at_rest, db_check, process_env
from kadath_world import room_of
from websockets.exceptions import WebSocketException

from kadath.world import DEFAULT_WORLD_DIR

PLAYERS = 50
PER_ACCOUNT = 10
START = "arkham.boarding_house"
STREET = "arkham.garrison_street"  # east of the start; north, south and east lead on
ONWARD = ("north", "south", "east")
CHATTER = ("look", "score", "say The fog is thick tonight.", "inventory", "who")

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]


@dataclass(frozen=True)
class Shutdown:
    """What one SIGTERM under load left behind."""

    characters: list[Character]
    rooms: list[str]  # where each character walked last, just before the signal
    before: AtRest  # read while the server ran, after the last item moved
    after: AtRest  # read after the server exited
    code: int
    check: CheckResult
    told: int  # clients that received the shutdown notice
    log_path: Path


@pytest.fixture(scope="module")
async def shutdown(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Shutdown]:
    base = tmp_path_factory.mktemp(f"shutdown-{backend}")
    async with contextlib.AsyncExitStack() as stack:
        if backend == "postgresql":
            pg = os.environ.get("KADATH_TEST_POSTGRES_URL")
            if not pg:
                pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
            url = await stack.enter_async_context(
                root_conftest(request.config).fresh_postgres_database(pg)
            )
        else:
            url = f"sqlite+aiosqlite:///{base / 'data' / 'kadath.db'}"
        env = process_env(base / "data", url, world_dir=_candles_at_the_start(base))
        server = ServerProcess(env, base / "server.log")
        stack.push_async_callback(server.aclose)
        await server.start()
        yield await _under_load(server, url)


async def _under_load(server: ServerProcess, url: str) -> Shutdown:
    characters = await _characters(server)
    clients = [await _enter(server, c) for c in characters]
    # everyone> get candle ; east ; <north|south|east>   (the last move just before the signal)
    rooms = await asyncio.gather(*(_wander(c, i) for i, c in enumerate(clients)))
    before = await at_rest(url)
    chatter = [asyncio.create_task(_chatter(c)) for c in clients]
    await asyncio.sleep(0.5)

    code = await server.terminate()
    await asyncio.gather(*chatter)

    after = await at_rest(url)
    told = [c for c in clients if any(f.get("event") == "shutdown" for f in c.received)]
    check = await db_check(server.env)
    return Shutdown(characters, rooms, before, after, code, check, len(told), server.log_path)


def test_the_server_stops_cleanly(shutdown: Shutdown) -> None:
    # uvicorn re-raises a caught SIGTERM once its graceful shutdown is over
    assert shutdown.code in (0, -signal.SIGTERM), shutdown
    ids = {c.id for c in shutdown.characters}
    carried = [where for where in shutdown.before.places.values() if where[0] in ids]
    assert len(carried) == PLAYERS, "everyone carried a candle"


def test_positions_moved_just_before_the_signal_are_saved(shutdown: Shutdown) -> None:
    saved = {c.name: shutdown.after.rooms[c.id] for c in shutdown.characters}
    walked = {c.name: room for c, room in zip(shutdown.characters, shutdown.rooms, strict=True)}
    assert saved == walked


def test_every_item_stays_where_it_was(shutdown: Shutdown) -> None:
    assert shutdown.after.places == shutdown.before.places


def test_nobodys_progress_changes(shutdown: Shutdown) -> None:
    assert shutdown.after.progress == shutdown.before.progress


def test_db_check_passes_after_the_shutdown(shutdown: Shutdown) -> None:
    assert shutdown.check.returncode == 0, shutdown.check.output


def test_every_player_is_told_before_the_connection_closes(shutdown: Shutdown) -> None:
    assert shutdown.told == PLAYERS, shutdown


async def _characters(server: ServerProcess) -> list[Character]:
    api = Api.to(server.base_url)
    try:
        await new_account(api, "keeper")  # the first account is the admin: not one of ours
        accounts = [await new_account(api) for _ in range(PLAYERS // PER_ACCOUNT)]
        return [await new_character(api, a) for a in accounts for _ in range(PER_ACCOUNT)]
    finally:
        await api.aclose()


async def _enter(server: ServerProcess, who: Character) -> GameClient:
    client = await GameClient.open(server.ws_url, who.name)
    await client.hello(who.token, who.name)
    return client


async def _wander(client: GameClient, index: int) -> str:
    """Pick up a candle, walk to the street and on; returns the room reached."""
    got: dict[str, Any] = {}
    for _ in range(PLAYERS):  # two hands on one candle: one of them tries another
        got = await client.command("get candle")
        if got["ok"]:
            break
    assert got["ok"], got["text"]
    assert (await client.command("east"))["ok"]
    reply = await client.command(ONWARD[index % len(ONWARD)])
    assert reply["ok"], reply
    frame = await client.wait_for(
        lambda f: f.get("type") == "room" and room_of(f) not in (START, STREET)
    )
    room = room_of(frame)
    assert room is not None
    return room


async def _chatter(client: GameClient) -> int:
    """Commands that change nothing stored, one after another, until the server closes."""
    done = 0
    with contextlib.suppress(Closed, WebSocketException, OSError, TimeoutError):
        while True:
            await client.command(CHATTER[done % len(CHATTER)])
            done += 1
    # A send can fail on the close before the frames ahead of it were read: read them now.
    with contextlib.suppress(Closed, WebSocketException, OSError, TimeoutError):
        await client.drain()
    return done


def _candles_at_the_start(directory: Path) -> Path:
    """A copy of the packaged world with a candle for everyone on the boarding-house floor."""
    world = directory / "world"
    shutil.copytree(DEFAULT_WORLD_DIR, world)
    zone_file = world / "zones" / "arkham.yaml"
    zone = yaml.safe_load(zone_file.read_text())
    (room,) = [r for r in zone["rooms"] if r["id"] == START]
    room["items"] = [{"item": "candle_stub", "count": PLAYERS}]
    zone_file.write_text(yaml.safe_dump(zone, sort_keys=False))
    return world
