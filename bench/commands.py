"""The command path in-process: a real app on SQLite, a few players, N commands.

    uv run python bench/commands.py [--players 10] [--commands 2000] [--mix look=1,say=1]
    uv run python bench/commands.py --profile /tmp/commands.prof      # cProfile, commands only
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p \\
        uv run python bench/commands.py --commands 1000               # instructions

One process, the app built by ``create_app`` with its lifespan entered (SQLite in a temporary
directory, cheap argon2, no NPC spawning), accounts and characters made over its HTTP API
in-process. Each player is connected through the same entry the WebSocket handler uses
(``runtime.connections.serve``) on a transport that does what the WebSocket transport does
short of the socket (``DirectTransport``: the frames' JSON text, batched as protocol 3 asks),
greets, then sends its share of the commands one at a time, each after the previous reply (a
closed loop, as ``bench/load.py --saturate``). Everyone starts in the start room.

Printed (stderr): commands, process CPU for the command phase, CPU per command; with
``--profile FILE`` the command phase runs under cProfile (and its top functions are printed).

Instructions per command under callgrind: run ``--commands N`` and ``--commands 2N`` with the
same seed and take the difference of the totals over N (start-up and setup cancel out).
Callgrind's counts barely move between identical runs, unlike times on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import json
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2

from kadath.bootstrap import create_app
from kadath.realtime.outgoing import Delivery
from kadath.realtime.transport import TransportClosed
from kadath.settings import Settings

PASSWORD = "correct horse battery"
SECRET = "a-bench-signing-secret-that-is-long-enough-0123456789"
SAYINGS = ("Has anyone seen the professor?", "The fog is thick tonight.", "Keep your lantern lit.")
EMOTES = ("shivers.", "glances over a shoulder.")
LOOK_SAY = "look=1,say=1"


class BenchTransport:
    """Encodes what it is sent as the WebSocket transport does (one JSON array a batch)."""

    def __init__(self, name: str) -> None:
        self.remote = f"127.0.0.1:{name}"
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.welcomed = asyncio.get_running_loop().create_future()
        self.frames = 0
        self.bytes = 0
        self.exits: list[str] = []

    async def receive_text(self) -> str:
        text = await self.inbox.get()
        if text is None:
            raise TransportClosed
        return text

    def send_frames_now(self, batch: Sequence[Delivery]) -> bool:
        text = ",".join([frame.text(seq) for seq, frame in batch])
        self.bytes += len(f"[{text}]".encode())
        self.frames += len(batch)
        for _seq, frame in batch:
            kind = frame.frame.get("type")
            if kind == "reply":
                self.replies.put_nowait(frame.frame)
            elif kind == "room" and isinstance(frame.frame.get("room"), dict):
                self.exits = [str(e) for e in frame.frame["room"].get("exits", [])]
            elif kind == "welcome" and not self.welcomed.done():
                self.welcomed.set_result(None)
            elif kind == "error" and not self.welcomed.done():
                self.welcomed.set_exception(RuntimeError(str(frame.frame)))
        return True

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        self.send_frames_now(batch)

    def use_batches(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass

    def abort(self) -> None:
        pass


async def make_players(client: httpx2.AsyncClient, count: int) -> list[tuple[str, str]]:
    made = []
    professions = (await client.get("/api/professions")).json()
    easiest = min(professions, key=lambda p: sum(p["requirements"].values()))
    for n in range(count):
        user = f"benchuser{n}"
        name = "Bench" + "".join(chr(97 + (n // 26**k) % 26) for k in range(3))
        created = await client.post(
            "/api/auth/register", json={"username": user, "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        login = await client.post("/api/auth/login", data={"username": user, "password": PASSWORD})
        token = login.json()["access_token"]
        response = await client.post(
            "/api/players",
            json={"name": name, "profession_id": easiest["id"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        made.append((token, name))
    return made


def parse_mix(text: str) -> tuple[list[str], list[int]]:
    pairs = [part.split("=") for part in text.split(",") if part]
    return [k for k, _ in pairs], [int(v) for _, v in pairs]


def choose(rng: random.Random, kinds: list[str], weights: list[int], exits: list[str]) -> str:
    kind = rng.choices(kinds, weights)[0]
    if kind == "say":
        return "say " + rng.choice(SAYINGS)
    if kind == "emote":
        return "emote " + rng.choice(EMOTES)
    if kind == "walk":
        return rng.choice(exits) if exits else "look"
    return kind


async def drive(
    transport: BenchTransport, count: int, rng: random.Random, mix: tuple[list[str], list[int]]
) -> None:
    for n in range(count):
        text = choose(rng, *mix, transport.exits)
        transport.inbox.put_nowait(json.dumps({"type": "command", "id": str(n), "text": text}))
        reply = await transport.replies.get()
        assert reply["re"] == str(n), reply


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=data_dir,
            database_url=f"sqlite+aiosqlite:///{data_dir / 'kadath.db'}",
            secret_key=SECRET,
            argon2_time_cost=1,
            argon2_memory_cost=1024,
            login_rate_limit="100000/minute",
            registration_rate_limit="100000/minute",
            log_level="WARNING",
            npc_spawning=False,
            telnet_port=0,
            # Ticks run by the clock, not per command: under callgrind (~50x slower) they
            # would add instructions in proportion to the wall time.
            tick_rate=args.tick_rate,
        )
        app = create_app(settings)
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url="http://kadath.test"
            )
            await stack.enter_async_context(client)
            made = await make_players(client, args.players)
            connections = app.state.runtime.connections
            connections._limits = dataclasses.replace(
                connections._limits, commands_per_second=1e9, burst=1e9
            )
            transports, serving = [], []
            for token, name in made:
                transport = BenchTransport(name)
                hello = {"type": "hello", "token": token, "player": name, "batch": True}
                transport.inbox.put_nowait(json.dumps(hello))
                serving.append(asyncio.create_task(connections.serve(transport)))
                await transport.welcomed
                transports.append(transport)
            mix = parse_mix(args.mix)
            rng = random.Random(args.seed)
            per = args.commands // len(transports)
            rngs = [random.Random(rng.random()) for _ in transports]
            # One warm-up round (the first look of a room reads the database).
            await asyncio.gather(
                *(drive(t, 2, r, mix) for t, r in zip(transports, rngs, strict=True))
            )
            profiler = cProfile.Profile() if args.profile else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            await asyncio.gather(
                *(drive(t, per, r, mix) for t, r in zip(transports, rngs, strict=True))
            )
            if profiler:
                profiler.disable()
            cpu = time.process_time() - started
            total = per * len(transports)
            frames = sum(t.frames for t in transports)
            print(
                f"{total} commands, {args.players} players, mix {args.mix}: "
                f"{cpu:.3f} s CPU, {cpu / total * 1e6:.1f} us/command, "
                f"{frames} frames delivered in all",
                file=sys.stderr,
            )
            for transport in transports:
                transport.inbox.put_nowait(None)
            await asyncio.gather(*serving, return_exceptions=True)
            if profiler:
                profiler.dump_stats(args.profile)
                stats = pstats.Stats(args.profile, stream=sys.stderr)
                stats.sort_stats("tottime").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--players", type=int, default=10)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--mix", default=LOOK_SAY, help=f"command weights ({LOOK_SAY})")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--profile", help="write a cProfile of the command phase here")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--tick-rate", type=float, default=0.01, help="game ticks a second")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))


if __name__ == "__main__":
    main()
