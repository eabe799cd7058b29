"""One player's bad input must not stall the others, and the logs never carry a token: a real
server, real clients, and logging set up exactly as ``kadath serve`` sets it up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from kadath_e2e import Api, Connect, GameClient, RunningServer, bearer, new_character

from kadath.commands.base import Command, Context
from kadath.domain.errors import KadathError
from kadath.logs import configure_logging
from kadath.settings import Settings

BYSTANDER_BOUND = 0.5  # seconds; a generous bound for "not stalled" (the issue saw 4.7 s)
# Lines that crashed on main (issue 8), then a command with a genuine bug.
ONCE_CRASHING = ["help north", "get ².coin", "drop ².coin", "wear ².coin", "examine ².coin"]
BURST_LINES = [line for old in ONCE_CRASHING for line in (old, "crash")] * 4


class Crash(Command):
    """A command with a bug, holding large locals as real code does."""

    names = ("crash",)
    usage = "crash"

    async def run(self, ctx: Context) -> str:
        ballast = dict.fromkeys(range(2_000), "x" * 100)
        raise RuntimeError(f"a bug with {len(ballast)} things in hand")


class HandshakeTrouble(KadathError):
    """Stands in for a pool timeout while a hello is checked."""


@pytest.fixture
def production_logs(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Logging as ``kadath serve`` configures it, writing to a file (not a terminal, as under a
    service manager); yields a function returning everything written so far."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with (tmp_path / "kadath.log").open("w", encoding="utf-8") as stream:
        pipeline = configure_logging(settings.log_level, json=settings.log_json, stream=stream)

        def written() -> str:
            pipeline.flush()
            return (tmp_path / "kadath.log").read_text(encoding="utf-8")

        try:
            yield written
        finally:
            pipeline.stop()


async def test_a_burst_of_crashing_commands_does_not_stall_a_bystander(
    production_logs: Callable[[], str], server: RunningServer, connect: Connect
) -> None:
    server.app.state.runtime.dispatcher.table.register(Crash())
    attacker, bystander = await connect(), await connect()
    done = asyncio.Event()
    latencies: list[float] = []

    async def attack() -> list[str]:
        ids = [await attacker.send_command(line) for line in BURST_LINES]
        replies = [
            await attacker.wait_for(lambda f, i=i: f.get("re") == i, within=120) for i in ids
        ]
        done.set()
        return [str(r["text"]) for r in replies]

    async def watch() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await bystander.command("look", within=120)
            latencies.append(time.perf_counter() - started)

    texts, _ = await asyncio.gather(attack(), watch())

    assert len(latencies) >= 1
    assert max(latencies) < BYSTANDER_BOUND, latencies
    crashed = [line for line, text in zip(BURST_LINES, texts, strict=True) if "went wrong" in text]
    assert crashed == ["crash"] * BURST_LINES.count("crash")
    assert "command_failed" in production_logs()


async def test_no_token_or_fragment_of_one_reaches_the_logs(
    production_logs: Callable[[], str], server: RunningServer, api: Api
) -> None:
    character = await new_character(api)
    token = character.token
    _header, payload, signature = token.split(".")
    tampered = f"{_header}.{payload}.{signature[::-1]}"
    secret = (server.settings.data_dir / "secret_key").read_text().strip()
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    claims["exp"] = datetime.now(UTC) - timedelta(hours=1)
    expired = jwt.encode(claims, secret, algorithm="HS256")

    async def trouble(_token: str, _name: str) -> object:
        raise HandshakeTrouble("the pool timed out")

    # A refused token, a hello that fails on infrastructure, a token in a URL and a header.
    for hello_token in (tampered, expired, token):
        client = await GameClient.open(server.ws_url + f"?token={hello_token}")
        if hello_token is token:
            server.app.state.runtime.connections._authorize = trouble
        await client.send_json({"type": "hello", "token": hello_token, "player": character.name})
        await client.wait_type("error")
        await client.close()
    await api.http.get(f"/api/players?access_token={token}", headers=bearer(tampered))
    await api.http.get("/api/auth/me", headers=bearer(tampered))

    written = production_logs()
    assert "handshake_failed" in written
    assert "/api/players" in written
    for fragment in (token, payload, signature, tampered, expired, payload[:12], signature[:8]):
        assert fragment not in written
    assert expired.split(".")[2][:8] not in written
