"""Crash loop: a real server subprocess, scripted players fighting, trading items through a chest
and bags, looting corpses and logging out and in, killed with SIGKILL at a random moment, then
started again; over and over.

The loop runs once per backend (a module fixture) and records what it saw; each test asserts
one guarantee over every cycle: ``kadath db check`` passes after every restart, no item that
existed is lost, none is in two places, nobody's experience goes backwards.

``KADATH_CRASH_CYCLES`` sets the number of cycles (20 by default; more for a soak) and
``KADATH_CRASH_SEED`` replays a run (the seed is printed in every failure)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from kadath_e2e import Api, Character, Closed, GameClient, new_account, new_character, root_conftest
from kadath_process import AtRest, CheckResult, ServerProcess, at_rest, db_check, process_env
from kadath_world import world_with_steadfast_rats
from websockets.exceptions import WebSocketException

from kadath.domain.world import World
from kadath.persistence.check import check_database
from kadath.persistence.engine import create_engine
from kadath.world import load_world

CYCLES = int(os.environ.get("KADATH_CRASH_CYCLES", "20"))
SEED = int(os.environ.get("KADATH_CRASH_SEED", str(random.randrange(1 << 30))))
PLAYERS = 4
ARENA = "graveyard.potters_field"
PLAY_SECONDS = (1.0, 3.0)
GAME_SETTINGS = {
    "corpse_owner_grace_seconds": 0.5,  # others may loot a corpse almost at once
    "corpse_decay_seconds": 4.0,
    "combat_round_seconds": 0.3,
    "tick_rate": 20,
}
PLAYER_MOVES = [
    *["attack rat"] * 3,
    "attack horror",
    *["get all", "drop all"],
    *["put all in chest", "get all from chest", "get all from chest"],
    *["get all from corpse", "get all from corpse"],
    *["wear satchel", "put all in satchel", "get all from satchel", "remove satchel"],
    "quit",
]
HORROR = {
    "id": "grave_horror",
    "name": "a grave horror",
    "description": "Something that should have stayed buried.",
    "keywords": ["horror"],
    "kind": "aggressive",
    "level": 3,
    "health": 5000,
    "stats": {
        "strength": 18,
        "dexterity": 10,
        "constitution": 18,
        "intelligence": 2,
        "wisdom": 2,
        "charisma": 1,
    },
    "xp": 5,
    "damage": [12, 30],
    "wander": {"chance": 0.0, "min_interval": 20},
}
DEAD_ON_ITS_FEET = "dead_on_its_feet:"
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")
Gone = (Closed, WebSocketException, OSError, TimeoutError, AssertionError)

pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]


@dataclass
class Tally:
    replies: int = 0
    slain_by_npcs: int = 0  # players killed by a blow, not by the admin's slay


@dataclass
class CrashLog:
    """What the loop saw, cycle by cycle."""

    backend: str
    log_path: Path
    checks: list[tuple[int, CheckResult]] = field(default_factory=list)  # the real command
    crashed: list[tuple[int, list[str]]] = field(default_factory=list)  # right after SIGKILL
    lost: list[tuple[int, set[str]]] = field(default_factory=list)
    doubled: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)
    regressed: list[tuple[int, str, tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    tally: Tally = field(default_factory=lambda: Tally())
    errors: list[str] = field(default_factory=list)  # from the server's log
    first: AtRest | None = None
    last: AtRest | None = None

    def __str__(self) -> str:
        return (
            f"{self.backend}, seed {SEED}, {CYCLES} cycles, {self.tally}, "
            f"server log {self.log_path}"
        )


def crash_world(directory: Path) -> Path:
    """Rats that never flee, a horror that kills a player in a blow or two (so lethal blows,
    and deaths by them, happen all the time), and an open chest full of things (two satchels
    among them) in Potter's Field, where the fights happen."""
    world = world_with_steadfast_rats(directory)
    zone_file = world / "zones" / "graveyard.yaml"
    zone = yaml.safe_load(zone_file.read_text())
    (room,) = [r for r in zone["rooms"] if r["id"] == ARENA]
    contents = {
        "leather_satchel": 2,
        "candle_stub": 4,
        "codfish": 3,
        "tarnished_coins": 3,
        "cane_sword": 1,
        "heavy_wool_coat": 1,
    }
    room["containers"] = [
        {
            "id": "potters_chest",
            "name": "a pine chest",
            "description": "A plain pine chest.",
            "keywords": ["chest"],
            "capacity": 40,
            "contents": [{"item": k, "count": n} for k, n in contents.items()],
        }
    ]
    zone_file.write_text(yaml.safe_dump(zone, sort_keys=False))
    npcs_file = world / "npcs.yaml"
    npcs = yaml.safe_load(npcs_file.read_text())
    npcs["npcs"].append(HORROR)
    npcs_file.write_text(yaml.safe_dump(npcs, sort_keys=False))
    return world


@pytest.fixture(scope="module")
async def crash_log(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[CrashLog]:
    if backend == "postgresql" and not os.environ.get("KADATH_TEST_POSTGRES_URL"):
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    base = tmp_path_factory.mktemp(f"crash-{backend}")
    async with contextlib.AsyncExitStack() as stack:
        if backend == "postgresql":
            fresh = root_conftest(request.config).fresh_postgres_database
            url = await stack.enter_async_context(fresh(os.environ["KADATH_TEST_POSTGRES_URL"]))
        else:
            url = f"sqlite+aiosqlite:///{base / 'data' / 'kadath.db'}"
        world_dir = crash_world(base)
        env = process_env(base / "data", url, world_dir=world_dir, **GAME_SETTINGS)
        log = CrashLog(backend, base / "server.log")
        server = ServerProcess(env, log.log_path)
        stack.push_async_callback(server.aclose)
        await crash_loop(server, env, url, load_world(world_dir), log)
        yield log


async def crash_loop(
    server: ServerProcess, env: dict[str, str], url: str, world: World, log: CrashLog
) -> None:
    rng = random.Random(SEED)
    await server.start()
    cast = await Cast.register(server)
    log.first = before = await at_rest(url)
    checking: asyncio.Task[CheckResult] | None = None
    for cycle in range(CYCLES):
        if cycle:
            await server.start()
        if checking is not None:
            log.checks.append((cycle - 1, await checking))
        # The real command, started on the restarted server's database and left to run over
        # the play, the kill and the next start: every committed state must hold the
        # invariants, not only the one a graceful stop leaves.
        checking = asyncio.create_task(db_check(env))
        await cast.play(server, rng, rng.uniform(*PLAY_SECONDS), log.tally)
        after = await at_rest(url)
        log.crashed.append((cycle, await violations(url, world)))
        compare(cycle, before, after, log)
        before = after
    await server.start()
    if checking is not None:
        log.checks.append((CYCLES - 1, await checking))
    await server.terminate()
    log.checks.append((CYCLES, await db_check(env)))  # and at rest, after a graceful stop
    log.last = await at_rest(url)
    compare(CYCLES, before, log.last, log)
    log.errors = _errors_logged(log.log_path)


def _errors_logged(path: Path) -> list[str]:
    """The server's error lines and the exceptions of its tracebacks, once each."""
    wanted: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        if "[error" in line:
            wanted.add(line[line.index("[error") :])  # without the time stamp
        elif line.startswith("ERROR") or EXCEPTION_LINE.match(line):
            wanted.add(line)
    return sorted(wanted)


async def violations(url: str, world: World) -> list[str]:
    """``kadath db check``'s findings, in process (cheap enough for every cycle)."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        _, found = await check_database(engine, world)
    finally:
        await engine.dispose()
    return [str(v) for v in found]


def compare(cycle: int, before: AtRest, after: AtRest, log: CrashLog) -> None:
    lost = set(before.places) - set(after.places)
    if lost:
        log.lost.append((cycle, lost))
    doubled = {item: where for item, where in after.places.items() if len(where) != 1}
    if doubled:
        log.doubled.append((cycle, doubled))
    for player, was in before.progress.items():
        now = after.progress.get(player)
        if now is None or now < was:
            log.regressed.append((cycle, player, was, now or (-1, -1)))


@dataclass
class Cast:
    """The admin (who spawns rats, slays and heals) and the players, across restarts."""

    admin: Character
    players: list[Character]

    @classmethod
    async def register(cls, server: ServerProcess) -> Cast:
        api = Api.to(server.base_url)
        try:
            keeper = await new_account(api, "keeper")
            assert keeper.is_admin
            admin = await new_character(api, keeper)
            players = [await new_character(api) for _ in range(PLAYERS)]
        finally:
            await api.aclose()
        return cls(admin, players)

    async def play(
        self, server: ServerProcess, rng: random.Random, seconds: float, tally: Tally
    ) -> None:
        """Connect everyone, play until SIGKILL after ``seconds``."""
        admin = await _enter(server, self.admin)
        clients = [await _enter(server, p) for p in self.players]
        try:
            await _set_the_scene(admin, self.players)
            scripts = [
                asyncio.create_task(
                    _player(server, clients, i, who, random.Random(rng.random()), tally)
                )
                for i, who in enumerate(self.players)
            ]
            scripts.append(asyncio.create_task(_keeper(admin, self.players, rng, tally)))
            await asyncio.sleep(seconds)
            await server.kill()  # in mid-play: whatever was in flight is cut off
            for script in scripts:
                script.cancel()
            await asyncio.gather(*scripts, return_exceptions=True)
        finally:
            for client in [admin, *clients]:
                with contextlib.suppress(*Gone):
                    client.abort()


async def _enter(server: ServerProcess, who: Character) -> GameClient:
    client = await GameClient.open(server.ws_url, who.name)
    await client.hello(who.token, who.name)
    return client


async def _set_the_scene(admin: GameClient, players: list[Character]) -> None:
    await admin.command(f"goto {ARENA}")
    for player in players:
        await admin.command(f"teleport {player.name} {ARENA}")
    for _ in range(2):
        await admin.command("spawn rat_swarm")
    await admin.command("spawn grave_horror")  # it falls on whoever comes in


async def _player(
    server: ServerProcess,
    clients: list[GameClient],
    index: int,
    who: Character,
    rng: random.Random,
    tally: Tally,
) -> None:
    """Random moves until the server dies; ``quit`` logs out, and the player comes back."""
    with contextlib.suppress(*Gone):
        while True:
            move = rng.choice(PLAYER_MOVES)
            await clients[index].command(move)
            tally.replies += 1
            tally.slain_by_npcs += sum(
                f.get("event") == "died" and "horror" in str(f.get("text"))
                for f in clients[index].meanwhile
            )
            if move == "quit":
                await clients[index].wait_closed()
                clients[index] = await _enter(server, who)


async def _keeper(
    admin: GameClient, players: list[Character], rng: random.Random, tally: Tally
) -> None:
    with contextlib.suppress(*Gone):
        while True:
            victim = rng.choice(players).name
            move = rng.choice(
                [
                    "spawn rat_swarm",
                    "spawn rat_swarm",
                    f"slay {victim}",
                    f"teleport {victim} {ARENA}",
                    f"heal {victim}",
                ]
            )
            await admin.command(move)
            tally.replies += 1
            await asyncio.sleep(0.1)


# -- the guarantees, each over every cycle ------------------------------------------------------


def test_the_players_really_played(crash_log: CrashLog) -> None:
    print(crash_log)  # shown with -rP: the seed and the tally of a run
    assert crash_log.tally.replies >= CYCLES * 10, crash_log
    assert crash_log.tally.slain_by_npcs >= CYCLES // 4, crash_log  # lethal blows happened
    assert crash_log.first is not None and crash_log.last is not None
    moved = [
        item
        for item, where in crash_log.last.places.items()
        if crash_log.first.places.get(item) != where
    ]
    assert moved, f"no item ever changed place: {crash_log}"
    gained = [p for p, xp in crash_log.last.progress.items() if xp > crash_log.first.progress[p]]
    assert gained, f"nobody ever gained experience: {crash_log}"


def _lines(crash_log: CrashLog) -> list[tuple[str, int, str]]:
    """Every violation any check found: (when, cycle, line)."""
    found = [
        ("after restart", cycle, line)
        for cycle, r in crash_log.checks
        for line in r.output.splitlines()
        if r.returncode != 0 and not line.endswith("problem(s) found")
    ]
    found += [
        ("after SIGKILL", cycle, line) for cycle, lines in crash_log.crashed for line in lines
    ]
    return found


def test_db_check_passes_after_every_restart(crash_log: CrashLog) -> None:
    assert len(crash_log.checks) == CYCLES + 1
    assert len(crash_log.crashed) == CYCLES
    broken = [f for f in _lines(crash_log) if not f[2].startswith(DEAD_ON_ITS_FEET)]
    assert broken == [], f"{crash_log}: {broken}"
    passed = [r for _, r in crash_log.checks if r.returncode == 0]
    assert all(r.output.startswith("database OK: ") for r in passed), str(crash_log)


def test_no_character_is_ever_left_at_health_zero(crash_log: CrashLog) -> None:
    dead = [f for f in _lines(crash_log) if f[2].startswith(DEAD_ON_ITS_FEET)]
    assert dead == [], f"{crash_log}: {dead}"


def test_the_server_logs_no_error(crash_log: CrashLog) -> None:
    assert crash_log.errors == [], f"{crash_log}: {crash_log.errors}"


def test_no_item_that_existed_is_lost(crash_log: CrashLog) -> None:
    assert crash_log.lost == [], f"{crash_log}: {crash_log.lost}"


def test_no_item_is_in_two_places(crash_log: CrashLog) -> None:
    assert crash_log.doubled == [], f"{crash_log}: {crash_log.doubled}"


def test_no_experience_goes_backwards(crash_log: CrashLog) -> None:
    assert crash_log.regressed == [], f"{crash_log}: {crash_log.regressed}"
