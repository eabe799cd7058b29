"""A hello that fails after the session was attached (while the welcome is built) leaves
nothing behind: no session, no writer task, no character in the world; the client gets an
error frame and a close code that says whether to try again."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from kadath_e2e import Character, GameClient, NewCharacter, RunningServer

from kadath.persistence.engine import create_engine
from kadath.persistence.errors import UNAVAILABLE
from kadath.persistence.layer import AsyncPersistenceLayer

Fault = Callable[[RunningServer], contextlib.AbstractAsyncContextManager[None]]


@contextlib.asynccontextmanager
async def items_table_renamed(server: RunningServer) -> AsyncIterator[None]:
    """A bug in the welcome: the room describer's query hits a missing table."""
    engine = server.app.state.runtime.persistence.engine
    async with engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE item_instances RENAME TO items_away"))
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE items_away RENAME TO item_instances"))


@contextlib.asynccontextmanager
async def room_reads_unreachable(server: RunningServer) -> AsyncIterator[None]:
    """An outage in the welcome: the room describer reads from a database that refuses."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    runtime = server.app.state.runtime
    dead = AsyncPersistenceLayer(
        create_engine(f"postgresql+asyncpg://kadath@127.0.0.1:{port}/kadath"),
        runtime.persistence.world,
    )
    describer = runtime.game.rooms
    reading, describer._reading = describer._reading, dead.reading
    try:
        yield
    finally:
        describer._reading = reading
        await dead.close()


FAULTS: dict[str, tuple[Fault, str, str, int]] = {
    "bug": (items_table_renamed, "internal", "Something went wrong; it has been logged.", 1011),
    "outage": (room_reads_unreachable, "unavailable", UNAVAILABLE, 1013),
}


@pytest.mark.parametrize("fault", FAULTS, ids=FAULTS.keys())
async def test_a_failure_while_building_the_welcome_leaves_nothing_behind(
    fault: str, server: RunningServer, new_character: NewCharacter
) -> None:
    inject, code, text, close_code = FAULTS[fault]
    character: Character = await new_character()
    runtime: Any = server.app.state.runtime
    client = await GameClient.open(server.ws_url, character.name)
    try:
        async with inject(server):
            await client.send_json(
                {"type": "hello", "token": character.token, "player": character.name}
            )
            frame = await client.wait_type("error")
            closed = await client.wait_closed()
    finally:
        await client.close()

    assert (frame["code"], frame["text"]) == (code, text)
    assert closed[0] == close_code
    player_id = uuid.UUID(character.id)
    assert runtime.hub.session_for(player_id) is None
    assert runtime.game.presence.get(player_id) is None
    writers = {t for t in asyncio.all_tasks() if t.get_name() == f"writer-{player_id}"}
    if writers:
        _, pending = await asyncio.wait(writers, timeout=2)
        assert not pending, "the session's writer task is still waiting"


async def test_the_same_character_can_enter_once_the_fault_is_gone(
    server: RunningServer, new_character: NewCharacter
) -> None:
    character = await new_character()
    first = await GameClient.open(server.ws_url, character.name)
    async with room_reads_unreachable(server):
        await first.send_json({"type": "hello", "token": character.token, "player": character.name})
        await first.wait_closed()
    second = await GameClient.open(server.ws_url, character.name)
    try:
        welcome = await second.hello(character.token, character.name)
        assert welcome["player"]["name"] == character.name
    finally:
        await second.close()
