"""Server load benchmark: many WebSocket players sending a realistic command mix.

    uv run python bench/load.py --players 100 --rate 1 --duration 30
    uv run python bench/load.py --players 200 --saturate --duration 20
    uv run python bench/load.py --players 500 --rate 1 --backend postgresql \\
        --pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    uv run python bench/load.py --url http://127.0.0.1:8000 --server-pid PID --players 50

By default (``--start-server``) it launches ``kadath serve`` as a subprocess on a free loopback
port with a fresh temporary data directory, SQLite (or a uniquely named PostgreSQL database
created on ``--pg-url`` and dropped afterwards), cheap argon2 and high rate limits. ``--url``
targets a server already running on a loopback address instead. Nothing but loopback is ever
contacted.

Setup registers accounts, creates characters and logs in over HTTP (httpx2), then connects one
WebSocket per character (bounded concurrency), greets it and walks it a few random steps so the
players spread over the world instead of all standing in the start room. Then, for
``--duration`` seconds (after a short unmeasured warm-up):

- open loop (``--rate R``): each player sends R commands per second on a jittered schedule,
  whatever the replies do;
- closed loop (``--saturate``): each player sends its next command as soon as the previous
  reply arrives.

Measured: replies per second, reply latency (send → the ``reply`` whose ``re`` matches),
errors and timeouts, event frames received (the server's fan-out), server CPU and RSS read from
/proc/<pid>/stat and /proc/<pid>/status, RSS per connected player, and the client's own CPU
(client and server share the machine). One JSON document goes to stdout (or ``--output``), a
one-line summary and progress go to stderr. Player count, duration and the whole run are capped,
and the server subprocess is always stopped.

``--transport telnet`` makes every player a telnet client instead: the server also listens for
telnet on a free loopback port, each bot signs in in-band (account, password, character) and
types commands as lines, and a reply is matched to its line by the ``Kadath.Reply`` GMCP
acknowledgement the server sends after it (docs/telnet.md). Same mix, spreading and report.

WebSocket bots ask in their hello for batches (protocol 3, docs/protocol.md: the frames queued
for a connection arrive as one JSON array per message); ``--no-batch`` makes them old clients
that get one frame per message. ``--crowd`` puts everyone in the start room (no spreading) with
a look/say mix (``look=1,say=1`` unless ``--mix`` says otherwise): issue 12's crowd.

``--server-cprofile FILE`` runs the server under cProfile (through bench/load_serve.py) and adds
its top functions to the report; profiling slows the server, so use it for where time goes, not
for throughput figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import json
import math
import os
import platform
import pstats
import random
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx2
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

MAX_PLAYERS = 2000
MAX_DURATION = 120.0
MAX_OVERALL = 900.0
MAX_CHARS_PER_ACCOUNT = 10
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PASSWORD = "load-bench-password"  # throwaway accounts on a throwaway server
LOOPBACK_NAMES = {"localhost"}
HERE = Path(__file__).resolve().parent

OPPOSITE = {
    "north": "south",
    "south": "north",
    "east": "west",
    "west": "east",
    "northeast": "southwest",
    "southwest": "northeast",
    "northwest": "southeast",
    "southeast": "northwest",
    "up": "down",
    "down": "up",
}
DEFAULT_MIX = "look=25,say=20,walk=20,emote=10,score=10,who=5,help=5,explored=5"
SAYINGS = (
    "Has anyone seen the professor?",
    "The fog is thick tonight.",
    "I heard piping from the hills.",
    "Keep your lantern lit.",
    "Where does this stair lead?",
    "Something moved in the river.",
)
EMOTES = ("shivers.", "glances over a shoulder.", "checks the lantern.", "mutters a prayer.")

CROWD_MIX = "look=1,say=1"
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"players": 20, "rate": 1.0, "duration": 5.0},
    "p100": {"players": 100, "rate": 1.0, "duration": 30.0},
    "p500": {"players": 500, "rate": 1.0, "duration": 30.0},
    "p1000": {"players": 1000, "rate": 1.0, "duration": 30.0},
    "saturate": {"players": 100, "saturate": True, "duration": 20.0},
}


def log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- /proc ------------------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def proc_memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) in KiB, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def loadavg() -> list[float]:
    with contextlib.suppress(OSError):
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    return []


@dataclass
class Snapshot:
    at: float
    server_cpu: float | None
    client_cpu: float | None
    rss_kib: int | None

    @classmethod
    def take(cls, server_pid: int | None) -> Snapshot:
        server_cpu = proc_cpu_seconds(server_pid) if server_pid else None
        rss = proc_memory_kib(server_pid).get("VmRSS") if server_pid else None
        return cls(time.perf_counter(), server_cpu, proc_cpu_seconds(os.getpid()), rss)


def cpu_percent(a: Snapshot, b: Snapshot, which: str) -> float | None:
    start, end = getattr(a, which), getattr(b, which)
    if start is None or end is None or b.at <= a.at:
        return None
    return round(100.0 * (end - start) / (b.at - a.at), 1)


class Sampler:
    """One snapshot a second, for peaks (the window's mean comes from its end snapshots)."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.samples: list[Snapshot] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.samples.append(Snapshot.take(self.server_pid))
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def peaks(self, start: float, end: float) -> dict[str, float | int | None]:
        inside = [s for s in self.samples if start - 1.0 <= s.at <= end + 1.0]
        pairs = list(itertools.pairwise(inside))
        server = [cpu_percent(a, b, "server_cpu") for a, b in pairs]
        client = [cpu_percent(a, b, "client_cpu") for a, b in pairs]
        rss = [s.rss_kib for s in inside if s.rss_kib is not None]
        return {
            "server_cpu_percent_peak_1s": max((x for x in server if x is not None), default=None),
            "client_cpu_percent_peak_1s": max((x for x in client if x is not None), default=None),
            "server_rss_kib_peak": max(rss, default=None),
        }


# -- statistics --------------------------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


def summarize_ms(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    ms = 1000.0
    return {
        "count": len(ordered),
        "mean": round(sum(ordered) / len(ordered) * ms, 2),
        "p50": round(percentile(ordered, 0.50) * ms, 2),
        "p95": round(percentile(ordered, 0.95) * ms, 2),
        "p99": round(percentile(ordered, 0.99) * ms, 2),
        "max": round(ordered[-1] * ms, 2),
    }


@dataclass
class Recorder:
    """Everything the bots observe; only commands sent inside the window are measured."""

    reply_timeout: float
    window_start: float = math.inf
    window_end: float = math.inf
    sent: int = 0
    replies_in_window: int = 0
    timeouts: int = 0
    send_failures: int = 0
    disconnects: int = 0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: Counter[str] = field(default_factory=Counter)  # ok=false replies by command kind
    frames: Counter[str] = field(default_factory=Counter)  # every frame type, in the window
    error_codes: Counter[str] = field(default_factory=Counter)
    schedule_lag: list[float] = field(default_factory=list)
    outstanding: int = 0  # commands sent in the window, not answered yet
    drained: asyncio.Event = field(default_factory=asyncio.Event)

    def in_window(self, at: float) -> bool:
        return self.window_start <= at < self.window_end

    def on_send(self, at: float) -> None:
        if self.in_window(at):
            self.sent += 1
            self.outstanding += 1

    def on_unsent(self, at: float) -> None:
        if self.in_window(at):
            self.sent -= 1
            self.settle()

    def settle(self) -> None:
        self.outstanding -= 1
        if self.outstanding <= 0 and time.perf_counter() >= self.window_end:
            self.drained.set()

    def on_reply(self, kind: str, sent_at: float, now: float, ok: bool) -> None:
        if self.in_window(now):
            self.replies_in_window += 1
        if not self.in_window(sent_at):
            return
        self.settle()
        latency = now - sent_at
        if latency > self.reply_timeout:
            self.timeouts += 1
        self.latencies.append(latency)
        self.by_kind[kind].append(latency)
        if not ok:
            self.refused[kind] += 1

    def on_frame(self, kind: str, now: float) -> None:
        if self.in_window(now):
            self.frames[kind] += 1


# -- one simulated player ---------------------------------------------------------------------
class Bot:
    def __init__(
        self, index: int, name: str, token: str, rec: Recorder, mix: dict[str, int], seed: int
    ) -> None:
        self.index, self.name, self.token, self.rec = index, name, token, rec
        self.rng = random.Random(seed * 100_003 + index)
        self.kinds = list(mix)
        weights = list(mix.values())
        self.cum = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.exits: list[str] = []
        self.room = ""
        self.back: str | None = None
        self.counter = 0
        self.pending: dict[str, tuple[float, str]] = {}
        self.texts: dict[str, str] = {}  # a following bot's unanswered commands' texts
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.alive = False
        self.closing = False
        self.batch = True  # ask for batched frames in the hello (protocol 3)
        # Protocol 4: say ``follow`` in the hello, and on a ``moved`` frame reconnect where it
        # says and send again the commands not answered (none of them was run).
        self.follow = False
        self.moved_to: str | None = None  # a ``moved`` came: the server closes next
        self.moves = 0  # connections moved (placement)
        self.unsent: set[str] = set()  # commands whose send met the closing socket of a move
        self._compression: str | None = None
        self._wait_s = 10.0

    async def connect(self, ws_url: str, compression: str | None, wait_s: float) -> None:
        self._compression, self._wait_s = compression, wait_s
        await self._open(ws_url, wait_s)
        self.reader = asyncio.create_task(self._read())
        await asyncio.wait_for(asyncio.shield(self.welcomed), wait_s)

    async def _open(self, ws_url: str, wait_s: float) -> None:
        """Connect and say hello (the welcome is awaited by the caller)."""
        self.ws = await connect(
            ws_url,
            compression=self._compression,
            proxy=None,
            ping_interval=None,
            max_size=4 * 1024 * 1024,
            max_queue=4096,
            open_timeout=wait_s,
            close_timeout=2,
        )
        self.alive = True
        hello: dict[str, Any] = {"type": "hello", "token": self.token, "player": self.name}
        if self.batch:
            hello["batch"] = True
        if self.follow:
            hello["follow"] = True
        await self.ws.send(json.dumps(hello))

    def _new_connection(self) -> None:
        """A move's new connection is about to say hello (``seq`` starts again)."""

    async def _read(self) -> None:
        try:
            while True:
                assert self.ws is not None
                try:
                    async for raw in self.ws:
                        now = time.perf_counter()
                        self._on_frame(raw if isinstance(raw, str) else raw.decode(), now)
                except (ConnectionClosed, WebSocketException, OSError):
                    pass
                url = self.moved_to  # kept while moving: commands wait for the new connection
                if url is None or self.closing:
                    break
                if not await self._move(url):
                    break
        finally:
            self.alive = False
            self.moved_to = None
            for frame_id in self.unsent & set(self.pending):  # no move took them on
                self.rec.send_failures += 1
                self.rec.on_unsent(self.pending.pop(frame_id)[0])
            self.unsent.clear()
            if not self.closing:
                self.rec.disconnects += 1
            if not self.welcomed.done():
                self.welcomed.set_exception(ConnectionError("closed before welcome"))
            for waiter in self.waiters.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("connection closed"))
            self.waiters.clear()

    async def _move(self, url: str) -> bool:
        """Reconnect at ``url`` (a ``moved`` frame's; again if that one moves it on, a few
        times), be welcomed, and send again every command not answered, with its id; False
        if that failed. Commands chosen meanwhile wait (``moved_to`` stays set until then)."""
        for _ in range(4):
            self.moves += 1
            if self.welcomed.done():  # else moved at the hello: connect() waits on this one
                self.welcomed = asyncio.get_running_loop().create_future()
                self.welcomed.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._new_connection()
            try:
                await self._open(url, self._wait_s)
                assert self.ws is not None
                ws = self.ws
                await asyncio.wait_for(self._until_welcome(ws, url), self._wait_s)
                if not self.welcomed.done():  # moved on before a welcome
                    url = str(self.moved_to)
                    continue
                self.welcomed.result()
                self.moved_to = None
                self.unsent.clear()
                for frame_id in sorted(self.pending, key=int):
                    text = self.texts.get(frame_id)
                    if text is not None:
                        await ws.send(json.dumps({"type": "command", "id": frame_id, "text": text}))
            except (OSError, TimeoutError, ConnectionError, WebSocketException) as exc:
                self.rec.error_codes[f"move failed: {type(exc).__name__} {exc}"[:80]] += 1
                return False
            return True
        return False

    async def _until_welcome(self, ws: ClientConnection, url: str) -> None:
        """Read until the welcome, or until the server closes after moving the bot on."""
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                self._on_frame(raw if isinstance(raw, str) else raw.decode(), time.perf_counter())
                if self.welcomed.done():
                    return
        if not self.welcomed.done() and self.moved_to in (None, url):
            self.welcomed.set_exception(ConnectionError("closed before welcome"))

    def _on_frame(self, raw: str, now: float) -> None:
        if raw.startswith("["):  # a batch (protocol 3): one array of frames, in seq order
            for frame in json.loads(raw):
                self._on_parsed(str(frame.get("type")), frame, now)
            return
        # The server writes "seq" then "type" first; parse fully only the frames acted on.
        start = raw.find('"type":"', 0, 40)
        if start >= 0:
            kind = raw[start + 8 : raw.find('"', start + 8)]
            if kind in ("reply", "room", "welcome", "error", "moved"):
                self._on_parsed(kind, json.loads(raw), now)
            else:
                self.rec.on_frame(kind, now)
        else:
            frame = json.loads(raw)
            self._on_parsed(str(frame.get("type")), frame, now)

    def _on_parsed(self, kind: str, frame: dict[str, Any], now: float) -> None:
        self.rec.on_frame(kind, now)
        if kind == "reply":
            entry = self.pending.pop(str(frame.get("re")), None)
            if self.follow:
                self.texts.pop(str(frame.get("re")), None)
            if entry is not None:
                self.rec.on_reply(entry[1], entry[0], now, bool(frame.get("ok")))
            waiter = self.waiters.pop(str(frame.get("re")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        elif kind in ("room", "welcome"):
            self._on_room(frame.get("room") or {})
            if kind == "welcome" and not self.welcomed.done():
                self.welcomed.set_result(None)
        elif kind == "moved":
            url = frame.get("url")
            if self.follow and isinstance(url, str):
                self.moved_to = url
        elif kind == "error":
            self.rec.error_codes[str(frame.get("code"))] += 1
            if not self.welcomed.done():
                self.welcomed.set_exception(ConnectionError(f"refused: {frame.get('text')}"))

    def _on_room(self, room: dict[str, Any]) -> None:
        self.room = str(room.get("id", self.room))
        self.exits = [str(e) for e in room.get("exits", [])]

    def choose(self) -> tuple[str, str]:
        """The next command: (kind, text)."""
        kind = self.rng.choices(self.kinds, cum_weights=self.cum)[0]
        if kind == "walk":
            if self.back is not None and self.back in self.exits:
                direction, self.back = self.back, None
                return kind, direction
            if not self.exits:
                return "look", "look"
            direction = self.rng.choice(self.exits)
            self.back = OPPOSITE.get(direction)
            return kind, direction
        if kind == "say":
            return kind, "say " + self.rng.choice(SAYINGS)
        if kind == "emote":
            return kind, "emote " + self.rng.choice(EMOTES)
        return kind, kind

    async def send(
        self, kind: str, text: str, *, wait: bool = False
    ) -> asyncio.Future[None] | None:
        """Send one command; with ``wait``, return a future resolved by its reply."""
        if (not self.alive and self.moved_to is None) or self.ws is None:
            return None
        self.counter += 1
        frame_id = str(self.counter)
        waiter: asyncio.Future[None] | None = None
        if wait:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters[frame_id] = waiter
        now = time.perf_counter()
        self.pending[frame_id] = (now, kind)
        self.rec.on_send(now)
        if self.follow:
            self.texts[frame_id] = text
            if self.moved_to is not None:  # moving: sent once the new connection is welcomed
                return waiter
        try:
            await self.ws.send(json.dumps({"type": "command", "id": frame_id, "text": text}))
        except (ConnectionClosed, WebSocketException, OSError):
            if self.follow:  # perhaps a move's close: sent again if a move follows
                self.unsent.add(frame_id)
                return waiter
            self.rec.send_failures += 1
            self.rec.on_unsent(now)
            self.pending.pop(frame_id, None)
            self.waiters.pop(frame_id, None)
            return None
        return waiter

    async def request(self, kind: str, text: str, wait_s: float) -> bool:
        waiter = await self.send(kind, text, wait=True)
        if waiter is None:
            return False
        try:
            await asyncio.wait_for(waiter, wait_s)
        except (TimeoutError, ConnectionError):
            return False
        return True

    async def spread(self, route: list[str], steps: int, wait_s: float) -> None:
        """Walk (unmeasured) to a target room along ``route`` and/or a few random steps, so
        players do not all stand in the start room."""
        for direction in route:
            if direction not in self.exits or not self.alive:
                break
            await self.request("spread", direction, wait_s)
        came_by: str | None = None
        for _ in range(steps):
            if not self.exits or not self.alive:
                return
            onward = [e for e in self.exits if e != came_by] or self.exits
            direction = self.rng.choice(onward)
            came_by = OPPOSITE.get(direction)
            await self.request("spread", direction, wait_s)

    async def open_loop(self, rate: float, start: float, end: float) -> None:
        period = 1.0 / rate
        due = start + self.rng.uniform(0.0, period)
        while due < end and self.alive:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            if self.rec.in_window(now):
                self.rec.schedule_lag.append(now - due)
            await self.send(*self.choose())
            due += period * self.rng.uniform(0.5, 1.5)

    async def closed_loop(self, end: float, wait_s: float) -> None:
        while time.perf_counter() < end and self.alive:
            kind, text = self.choose()
            if not await self.request(kind, text, wait_s) and not self.alive:
                return

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 3)
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


# -- one simulated telnet player ----------------------------------------------------------------
T_IAC, T_SB, T_SE, T_WILL, T_WONT, T_DO, T_DONT = 255, 250, 240, 251, 252, 253, 254
T_EOR, T_SGA, T_EOR_CMD, T_GMCP = 25, 3, 239, 201
T_ACCEPT = {T_SGA, T_EOR, T_GMCP}  # everything else (MCCP2, TTYPE, NAWS, CHARSET…) refused
LONG_DIRECTIONS = {
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
    "u": "up",
    "d": "down",
}


def room_ids_by_num() -> dict[int, str]:
    """Room.Info's ``num`` → room id, for routing telnet players like WebSocket ones."""
    from kadath.telnet.gmcp import room_num
    from kadath.world import DEFAULT_WORLD_DIR, load_world

    return {room_num(r): r for r in load_world(DEFAULT_WORLD_DIR).rooms}


class TelnetBot(Bot):
    """A player over telnet: signs in in-band (account, password, character), types commands
    as lines, and matches each reply to its line by the ``Kadath.Reply`` GMCP acknowledgement
    the server sends after the reply's text (lines are numbered 1, 2, … per connection; the
    server answers them in order). Room.Info gives the exits for walking."""

    rooms: ClassVar[dict[int, str]] = {}
    port: ClassVar[int] = 0

    def __init__(self, *args: Any, account: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.stream: asyncio.StreamWriter | None = None
        self.text = ""  # only until signed in
        self.signed_in = False
        self.prompts: list[tuple[str, str]] = []  # (question, answer), in order
        self._pending = b""

    async def connect(self, ws_url: str, compression: str | None, wait_s: float) -> None:
        reader, self.stream = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20), wait_s
        )
        self.alive = True
        self.prompts = [
            ("Account name", self.account),
            ("Password:", PASSWORD),
            ("to play, or 'new':", self.name),
        ]
        self.reader = asyncio.create_task(self._read_telnet(reader))
        await asyncio.wait_for(asyncio.shield(self.welcomed), wait_s)

    async def _read_telnet(self, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(1 << 16):
                self._feed(chunk, time.perf_counter())
        except (ConnectionError, OSError):
            pass
        finally:
            self.alive = False
            if not self.closing:
                self.rec.disconnects += 1
            if not self.welcomed.done():
                self.welcomed.set_exception(ConnectionError(f"closed: {self.text[-200:]!r}"))
            for waiter in self.waiters.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("connection closed"))
            self.waiters.clear()

    def _feed(self, chunk: bytes, now: float) -> None:
        data = self._pending + chunk
        text = bytearray()
        i = 0
        while True:
            at = data.find(b"\xff", i)
            if at < 0:
                text += data[i:]
                i = len(data)
                break
            text += data[i:at]
            if at + 1 >= len(data):
                break
            cmd = data[at + 1]
            if cmd in (T_WILL, T_WONT, T_DO, T_DONT):
                if at + 2 >= len(data):
                    break
                self._answer(cmd, data[at + 2])
                i = at + 3
            elif cmd == T_SB:
                end = data.find(b"\xff\xf0", at)
                if end < 0:
                    break
                if data[at + 2] == T_GMCP:
                    self._on_gmcp(data[at + 3 : end].replace(b"\xff\xff", b"\xff"), now)
                i = end + 2
            else:
                if cmd == T_EOR_CMD:
                    self.rec.on_frame("prompt", now)
                elif cmd == T_IAC:
                    text.append(T_IAC)
                i = at + 2
        self._pending = data[i:]
        if not self.signed_in and text:
            self._sign_in(text.decode("utf-8", "replace"))

    def _answer(self, cmd: int, option: int) -> None:
        assert self.stream is not None
        if cmd == T_WILL:
            yes = option in T_ACCEPT
            self.stream.write(bytes([T_IAC, T_DO if yes else T_DONT, option]))
            if yes and option == T_GMCP:
                supports = json.dumps(["Room 1", "Kadath.Reply 1"])
                body = f"Core.Supports.Set {supports}".encode()
                self.stream.write(bytes([T_IAC, T_SB, T_GMCP]) + body + bytes([T_IAC, T_SE]))
        elif cmd == T_DO:
            self.stream.write(bytes([T_IAC, T_WONT, option]))

    def _sign_in(self, text: str) -> None:
        assert self.stream is not None
        self.text += text
        while self.prompts and self.prompts[0][0] in self.text:
            question, answer = self.prompts.pop(0)
            self.text = self.text[self.text.index(question) + len(question) :]
            self.stream.write(answer.encode() + b"\r\n")
        if "Welcome to Kadath" in self.text:
            self.signed_in, self.text = True, ""

    def _on_gmcp(self, payload: bytes, now: float) -> None:
        package, _, body = payload.decode("utf-8", "replace").partition(" ")
        if package == "Kadath.Reply":
            ack = json.loads(body)
            self._on_frame(json.dumps({"type": "reply", "re": str(ack["n"]), "ok": ack["ok"]}), now)
            return
        self.rec.on_frame(f"gmcp {package}", now)
        if package == "Room.Info":
            info = json.loads(body)
            self.room = self.rooms.get(int(info.get("num", 0)), self.room)
            self.exits = [LONG_DIRECTIONS.get(e, e) for e in info.get("exits", {})]
            if not self.welcomed.done():
                self.welcomed.set_result(None)

    async def send(
        self, kind: str, text: str, *, wait: bool = False
    ) -> asyncio.Future[None] | None:
        """Type one line; with ``wait``, return a future resolved by its reply."""
        if not self.alive or self.stream is None:
            return None
        self.counter += 1
        frame_id = str(self.counter)
        waiter: asyncio.Future[None] | None = None
        if wait:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters[frame_id] = waiter
        now = time.perf_counter()
        self.pending[frame_id] = (now, kind)
        self.rec.on_send(now)
        try:
            self.stream.write(text.encode() + b"\r\n")
            await self.stream.drain()
        except (ConnectionError, OSError):
            self.rec.send_failures += 1
            self.rec.on_unsent(now)
            self.pending.pop(frame_id, None)
            self.waiters.pop(frame_id, None)
            return None
        return waiter

    async def close(self) -> None:
        self.closing = True
        if self.stream is not None:
            with contextlib.suppress(Exception):
                self.stream.write(b"quit\r\n")
                self.stream.close()
                await asyncio.wait_for(self.stream.wait_closed(), 3)
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


# -- the server --------------------------------------------------------------------------------
def require_loopback(host: str | None, what: str) -> str:
    if not host:
        raise SystemExit(f"{what}: no host")
    if host.lower() in LOOPBACK_NAMES:
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise SystemExit(f"{what}: only loopback addresses are allowed, not {host!r}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def postgres_database(server_url: str) -> AsyncIterator[str]:
    """A uniquely named database on the (loopback) server, dropped afterwards."""
    import asyncpg  # only the PostgreSQL runs need it

    parts = urlsplit(server_url)
    require_loopback(parts.hostname, "--pg-url")
    plain = parts._replace(scheme="postgresql").geturl()
    name = f"kadath_load_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(plain, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    log(f"created PostgreSQL database {name}")
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        conn = await asyncpg.connect(plain, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped PostgreSQL database {name}")
        finally:
            await conn.close()


class ServerProcess:
    """``kadath serve`` in a subprocess: started on a free port, always stopped."""

    def __init__(self, data_dir: Path, database_url: str | None, cprofile: Path | None) -> None:
        self.data_dir, self.database_url, self.cprofile = data_dir, database_url, cprofile
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.telnet_port = 0  # set to a free port by start(telnet=True)
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = data_dir / "server.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, command_rate: str, *, telnet: bool = False) -> None:
        env = {
            **os.environ,
            "KADATH_DATA_DIR": str(self.data_dir),
            "KADATH_ARGON2_TIME_COST": "1",
            "KADATH_ARGON2_MEMORY_COST": "8",
            "KADATH_LOGIN_RATE_LIMIT": "100000/minute",
            "KADATH_REGISTRATION_RATE_LIMIT": "100000/minute",
            "KADATH_PASSWORD_HASH_QUEUE": "100000",
            "KADATH_UNAUTHENTICATED_CONNECTIONS_PER_IP": "100000",
            "KADATH_COMMAND_RATE": command_rate,
            "KADATH_LOG_LEVEL": "WARNING",
            "KADATH_TELNET_PORT": "0",  # off unless --transport telnet; never bind 4000
        }
        if telnet:
            self.telnet_port = free_port()
            env["KADATH_TELNET_HOST"] = "127.0.0.1"
            env["KADATH_TELNET_PORT"] = str(self.telnet_port)
            env["KADATH_TELNET_CONNECTIONS_PER_IP"] = "100000"  # every bot is 127.0.0.1
        env.pop("KADATH_DATABASE_URL", None)
        if self.database_url:
            env["KADATH_DATABASE_URL"] = self.database_url
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        script = Path(sys.executable).parent / "kadath"
        if self.cprofile is not None:
            env["KADATH_BENCH_CPROFILE"] = str(self.cprofile)
            argv = [sys.executable, str(HERE / "load_serve.py"), *args]
        elif script.exists():
            argv = [str(script), *args]
        else:
            argv = [sys.executable, "-m", "kadath.cli", *args]
        with self.log_path.open("wb") as out:
            # cwd is the data dir, so no stray .env file is read
            self.proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=self.data_dir, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        log(f"server pid {self.proc.pid} on {self.url}")

    async def wait_ready(self, client: httpx2.AsyncClient, wait_s: float = 60.0) -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.returncode is not None:
                raise RuntimeError(f"server exited early:\n{self.tail()}")
            with contextlib.suppress(httpx2.HTTPError):
                response = await client.get("/api/monitoring/ready", timeout=2)
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"server not ready after {wait_s:.0f}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self) -> int | None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 25)
        except TimeoutError:
            log("server did not stop in 25 s: killing it")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        return proc.returncode

    def kill_now(self) -> None:
        """Last resort (interpreter exit): the subprocess must never outlive the benchmark."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)


# -- setup over HTTP ---------------------------------------------------------------------------
def letters(n: int) -> str:
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out = chr(97 + digit) + out
        if n == 0:
            return out


def account_of(name: str, tag: str) -> str:
    """The account ``setup_players`` made for a character, with one character per account."""
    index = 0
    for char in name[len(f"Lb{tag}") :]:
        index = index * 26 + ord(char) - 97
    return f"lb{tag}{index}"


async def register_and_login(client: httpx2.AsyncClient, username: str) -> str:
    response = await client.post(
        "/api/auth/register", json={"username": username, "password": PASSWORD}
    )
    if response.status_code != 201:
        raise RuntimeError(f"register {username}: {response.status_code} {response.text[:200]}")
    response = await client.post(
        "/api/auth/login", data={"username": username, "password": PASSWORD}
    )
    if response.status_code != 200:
        raise RuntimeError(f"login {username}: {response.status_code} {response.text[:200]}")
    return str(response.json()["access_token"])


async def setup_players(
    client: httpx2.AsyncClient, players: int, per_account: int, concurrency: int, tag: str
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Register accounts, log in, create characters: [(token, character name)] and timings."""
    started = time.perf_counter()
    response = await client.get("/api/professions")
    response.raise_for_status()
    professions = response.json()
    profession = min(professions, key=lambda p: sum(p["requirements"].values()))["id"]
    accounts = math.ceil(players / per_account)
    gate = asyncio.Semaphore(concurrency)
    failures: Counter[str] = Counter()

    async def one(account: int) -> list[tuple[str, str]]:
        async with gate:
            try:
                token = await register_and_login(client, f"lb{tag}{account}")
                made = []
                first, last = account * per_account, min(players, (account + 1) * per_account)
                for index in range(first, last):
                    response = await client.post(
                        "/api/players",
                        json={"name": f"Lb{tag}{letters(index)}", "profession_id": profession},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    if response.status_code != 201:
                        failures[f"create {response.status_code}"] += 1
                        continue
                    made.append((token, str(response.json()["name"])))
                return made
            except (httpx2.HTTPError, RuntimeError) as exc:
                failures[type(exc).__name__] += 1
                return []

    results = await asyncio.gather(*(one(a) for a in range(accounts)))
    made = [pair for batch in results for pair in batch]
    return made, {
        "accounts": accounts,
        "characters": len(made),
        "failures": dict(failures),
        "seconds": round(time.perf_counter() - started, 2),
    }


async def admin_token(client: httpx2.AsyncClient, tag: str) -> str:
    """The first account on a fresh server is an admin: take it, so players are not admins."""
    return await register_and_login(client, f"lbadmin{tag}")


async def server_stats(client: httpx2.AsyncClient, token: str | None) -> dict[str, Any] | None:
    if token is None:
        return None
    with contextlib.suppress(httpx2.HTTPError, ValueError):
        response = await client.get(
            "/api/monitoring/stats", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        if response.status_code == 200:
            data: dict[str, Any] = response.json()
            return data
    return None


# -- the run -----------------------------------------------------------------------------------
def parse_mix(text: str) -> dict[str, int]:
    allowed = {"look", "say", "walk", "emote", "score", "who", "help", "explored"}
    mix: dict[str, int] = {}
    for part in text.split(","):
        name, _, weight = part.strip().partition("=")
        if name not in allowed or not weight.strip().isdigit():
            raise SystemExit(f"--mix: expected name=weight with names in {sorted(allowed)}")
        if int(weight):
            mix[name] = int(weight)
    if not mix:
        raise SystemExit("--mix: every weight is zero")
    return mix


def world_map() -> tuple[str, dict[str, dict[str, str]]] | None:
    """The packaged world's start room and exits, to route players to target rooms."""
    try:
        from kadath.world import DEFAULT_WORLD_DIR, load_world

        world = load_world(DEFAULT_WORLD_DIR)
    except Exception as exc:  # the map is an optimisation: fall back to random walks
        log(f"world map unavailable ({exc}); spreading by random walks")
        return None
    exits = {r.id: {d.value: dest for d, dest in r.exits.items()} for r in world.rooms.values()}
    return world.start_room_id, exits


def route(exits: dict[str, dict[str, str]], start: str, target: str) -> list[str]:
    """The directions of a shortest path (breadth-first), or [] when there is none."""
    previous: dict[str, tuple[str, str] | None] = {start: None}
    frontier = [start]
    while frontier and target not in previous:
        following = []
        for room in frontier:
            for direction, dest in exits.get(room, {}).items():
                if dest not in previous:
                    previous[dest] = (room, direction)
                    following.append(dest)
        frontier = following
    if target not in previous:
        return []
    path: list[str] = []
    step = previous[target]
    while step is not None:
        path.append(step[1])
        step = previous[step[0]]
    return path[::-1]


async def connect_bots(
    bots: list[Bot], ws_url: str, args: argparse.Namespace
) -> tuple[list[Bot], dict[str, Any]]:
    started = time.perf_counter()
    world = await asyncio.to_thread(world_map) if args.spread == "rooms" else None
    targets = sorted(world[1]) if world else []
    gate = asyncio.Semaphore(args.connect_concurrency)
    failures: Counter[str] = Counter()
    compression = None if args.compression == "none" else args.compression

    async def one(bot: Bot) -> Bot | None:
        async with gate:
            try:
                await bot.connect(ws_url, compression, args.reply_timeout)
                path: list[str] = []
                if world is not None:
                    path = route(world[1], bot.room, targets[bot.index % len(targets)])
                steps = args.spread_steps if args.spread != "none" else 0
                await bot.spread(path, steps, args.reply_timeout)
                return bot
            except (OSError, TimeoutError, ConnectionError, WebSocketException) as exc:
                failures[type(exc).__name__] += 1
                await bot.close()
                return None

    done = await asyncio.gather(*(one(b) for b in bots))
    connected = [b for b in done if b is not None]
    rooms = Counter(b.room for b in connected)
    return connected, {
        "connected": len(connected),
        "failures": dict(failures),
        "seconds": round(time.perf_counter() - started, 2),
        "spread": args.spread,
        "spread_random_steps": args.spread_steps,
        "rooms_occupied": len(rooms),
        "most_in_one_room": max(rooms.values(), default=0),
    }


async def drive(bots: list[Bot], rec: Recorder, args: argparse.Namespace) -> tuple[float, float]:
    """Run the load: warm-up, then the measured window. Returns the window (start, end)."""
    begin = time.perf_counter()
    start = begin + args.warmup
    end = start + args.duration
    rec.window_start, rec.window_end = start, end
    if args.saturate:
        runs = [b.closed_loop(end, args.reply_timeout) for b in bots]
    else:
        runs = [b.open_loop(args.rate, begin, end) for b in bots]
    await asyncio.gather(*runs)
    # let replies to commands sent in the window arrive (bounded)
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    if rec.outstanding > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rec.drained.wait(), min(args.reply_timeout, 10.0))
    for bot in bots:
        rec.timeouts += sum(1 for sent, _ in bot.pending.values() if rec.in_window(sent))
    return start, end


def server_profile_top(path: Path, limit: int = 30) -> dict[str, list[dict[str, Any]]]:
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_cc, calls, tottime, cumtime, _callers) in entries.items():
        rows.append(
            {
                "function": f"{filename}:{line}({function})",
                "calls": calls,
                "tottime_s": round(tottime, 3),
                "cumtime_s": round(cumtime, 3),
            }
        )
    by_tot = sorted(rows, key=lambda r: r["tottime_s"], reverse=True)[:limit]
    kadath = [r for r in rows if "/kadath/" in r["function"]]
    by_cum = sorted(kadath, key=lambda r: r["cumtime_s"], reverse=True)[:limit]
    return {"by_tottime": by_tot, "kadath_by_cumtime": by_cum}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4))
    mix = parse_mix(args.mix)
    report: dict[str, Any] = {
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k not in ("pg_url",)
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "client_event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
            "loadavg_before": loadavg(),
        },
    }
    report["config"]["mix"] = mix
    async with contextlib.AsyncExitStack() as stack:
        server: ServerProcess | None = None
        server_pid: int | None = args.server_pid
        if args.url is None:
            database_url = None
            if args.backend == "postgresql":
                database_url = await stack.enter_async_context(postgres_database(args.pg_url))
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kadath-load-")))
            cprofile = args.server_cprofile
            server = ServerProcess(data_dir, database_url, cprofile)
            stack.callback(server.kill_now)
            stack.push_async_callback(server.stop)
            await server.start(args.command_rate, telnet=args.transport == "telnet")
            base_url, server_pid = server.url, server.pid
            TelnetBot.port = server.telnet_port
        else:
            base_url = args.url.rstrip("/")
        ws_url = "ws" + base_url[len("http") :] + "/ws"
        client = await stack.enter_async_context(
            httpx2.AsyncClient(
                base_url=base_url,
                timeout=30,
                trust_env=False,
                limits=httpx2.Limits(max_connections=args.setup_concurrency),
            )
        )
        if server is not None:
            await server.wait_ready(client)
        admin = await admin_token(client, tag) if server is not None else None

        log(f"setup: {args.players} characters, {args.chars_per_account} per account")
        made, report["setup_http"] = await setup_players(
            client, args.players, args.chars_per_account, args.setup_concurrency, tag
        )
        if not made:
            raise RuntimeError("no character could be created")
        rec = Recorder(reply_timeout=args.reply_timeout)
        if args.transport == "telnet":
            TelnetBot.rooms = await asyncio.to_thread(room_ids_by_num)
            bots: list[Bot] = [
                TelnetBot(i, name, token, rec, mix, args.seed, account=account_of(name, tag))
                for i, (token, name) in enumerate(made)
            ]
        else:
            bots = [
                Bot(i, name, token, rec, mix, args.seed) for i, (token, name) in enumerate(made)
            ]
            for bot in bots:
                bot.batch = not args.no_batch
        await asyncio.sleep(1.0)
        before_connect = Snapshot.take(server_pid)
        log(f"connecting {len(bots)} {args.transport} players and spreading them out")
        try:
            bots, report["setup_ws"] = await connect_bots(bots, ws_url, args)
            await asyncio.sleep(1.0)
            after_connect = Snapshot.take(server_pid)
            stats_before = await server_stats(client, admin)
            sampler = Sampler(server_pid)
            sampler.start()
            mode = "closed loop" if args.saturate else f"{args.rate}/s each"
            log(f"load: {len(bots)} players, {mode}, {args.warmup}+{args.duration} s")
            window_start = time.perf_counter()
            marks: dict[str, Snapshot] = {}

            async def mark_window() -> None:
                await asyncio.sleep(args.warmup)
                marks["start"] = Snapshot.take(server_pid)
                await asyncio.sleep(args.duration)
                marks["end"] = Snapshot.take(server_pid)

            marker = asyncio.create_task(mark_window())
            window_start, window_end = await drive(bots, rec, args)
            await marker
            await sampler.stop()
            stats_after = await server_stats(client, admin)
            rooms = Counter(b.room for b in bots if b.alive)
        finally:
            log("closing connections")
            gate = asyncio.Semaphore(200)

            async def close(bot: Bot) -> None:
                async with gate:
                    await bot.close()

            await asyncio.gather(*(close(b) for b in bots))

        report["load"] = load_report(rec, args, len(bots), rooms)
        report["server"] = server_report(
            server_pid,
            len(bots),
            before_connect,
            after_connect,
            marks,
            sampler.peaks(window_start, window_end),
        )
        report["server"]["stats_api"] = stats_delta(stats_before, stats_after, args.duration)
        report["client"] = {"cpu_percent": cpu_percent(marks["start"], marks["end"], "client_cpu")}
        report["machine"]["loadavg_after"] = loadavg()
        if server is not None:
            log("stopping the server")
            report["server"]["exit_code"] = await server.stop()
            report["server"]["log_warnings"] = warning_summary(server.log_path)
            if server.cprofile is not None and server.cprofile.exists():
                report["server"]["cprofile"] = server_profile_top(server.cprofile)
    return report


def load_report(
    rec: Recorder, args: argparse.Namespace, players: int, rooms: Counter[str]
) -> dict[str, Any]:
    events = sum(n for kind, n in rec.frames.items() if kind not in ("reply", "pong"))
    return {
        "mode": "saturate" if args.saturate else "open_loop",
        "players": players,
        "offered_rate_per_player": None if args.saturate else args.rate,
        "duration_s": args.duration,
        "commands_sent": rec.sent,
        "replies": len(rec.latencies),
        "replies_per_s": round(rec.replies_in_window / args.duration, 1),
        "refused_replies": dict(rec.refused),
        "timeouts": rec.timeouts,
        "send_failures": rec.send_failures,
        "disconnects": rec.disconnects,
        "error_frames": dict(rec.error_codes),
        "latency_ms": summarize_ms(rec.latencies),
        "latency_ms_by_command": {k: summarize_ms(v) for k, v in sorted(rec.by_kind.items())},
        "schedule_lag_ms": summarize_ms(rec.schedule_lag) if rec.schedule_lag else None,
        "frames_received": dict(rec.frames),
        "non_reply_frames_per_s": round(events / args.duration, 1),
        "rooms_occupied_at_end": len(rooms),
        "most_in_one_room_at_end": max(rooms.values(), default=0),
    }


def server_report(
    pid: int | None,
    players: int,
    before: Snapshot,
    after: Snapshot,
    marks: dict[str, Snapshot],
    peaks: dict[str, Any],
) -> dict[str, Any]:
    if pid is None:
        return {"pid": None, "note": "no --server-pid: server CPU and memory not measured"}
    per_player = None
    if before.rss_kib is not None and after.rss_kib is not None and players:
        per_player = round((after.rss_kib - before.rss_kib) / players, 1)
    return {
        "pid": pid,
        "cpu_percent": cpu_percent(marks["start"], marks["end"], "server_cpu"),
        **peaks,
        "rss_kib_before_connect": before.rss_kib,
        "rss_kib_after_connect": after.rss_kib,
        "rss_kib_end": marks["end"].rss_kib,
        "rss_per_player_kib": per_player,
        "vmhwm_kib": proc_memory_kib(pid).get("VmHWM"),
    }


def warning_summary(path: Path) -> dict[str, Any]:
    """The server runs at log level WARNING: count its warnings by event, keep a few lines."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    events: Counter[str] = Counter()
    for line in lines:
        words = [w for w in line.split() if w.isidentifier() and "_" in w]
        if "[warning" in line or "[error" in line or "Traceback" in line:
            events[words[0] if words else line[:60]] += 1
    return {"lines": len(lines), "events": dict(events.most_common(10)), "last": lines[-8:]}


def stats_delta(
    before: dict[str, Any] | None, after: dict[str, Any] | None, duration: float
) -> dict[str, Any] | None:
    if before is None or after is None:
        return None
    handled = after["commands_handled"] - before["commands_handled"]
    return {
        "commands_handled": handled,
        "note": "handled between the two stats calls (includes warm-up and drain)",
        "dispatch_latency_ms_recent": after.get("command_latency_ms"),
        "players_online": after.get("players_online"),
        "connections": after.get("connections"),
        "database_pool": after.get("database_pool"),
        "extra": after.get("extra"),
    }


def summary_line(report: dict[str, Any]) -> str:
    load, server = report["load"], report["server"]
    lat, rate = load["latency_ms"], load["offered_rate_per_player"]
    backend = report["config"]["backend"] if report["config"]["url"] is None else "external"
    cpu, replies = server.get("cpu_percent"), load["replies_per_s"]
    per_reply = round(cpu / 100 / replies * 1e6) if cpu and replies else None
    batch = " no-batch" if report["config"].get("no_batch") else ""
    load_1m = (report["machine"]["loadavg_before"] or [None])[0]
    return (
        f"{load['players']} {report['config']['transport']}{batch} players {load['mode']}"
        f"{'' if rate is None else f' @{rate}/s'}"
        f" [{backend}]: {load['replies_per_s']} replies/s, p50 {lat.get('p50')} ms,"
        f" p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms, max {lat.get('max')} ms,"
        f" timeouts {load['timeouts']}, disconnects {load['disconnects']};"
        f" server CPU {server.get('cpu_percent')}%, RSS/player {server.get('rss_per_player_kib')}"
        f" KiB; client CPU {report['client']['cpu_percent']}%;"
        f" server CPU/reply {per_reply} µs; load {load_1m}"
    )


# -- command line ------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), help="a preset (flags override it)")
    parser.add_argument("--players", type=int, help=f"WebSocket players (≤ {MAX_PLAYERS}; 100)")
    parser.add_argument("--rate", type=float, help="commands per second per player (1.0)")
    parser.add_argument("--saturate", action="store_true", default=None, help="closed loop")
    parser.add_argument(
        "--duration", type=float, help=f"measured seconds (≤ {MAX_DURATION:.0f}; 30)"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--start-server", dest="url", action="store_const", const=None, help="(default)"
    )
    target.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's pid, for /proc")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL server (loopback)")
    parser.add_argument("--chars-per-account", type=int, default=1, help="1–10 characters each")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"command weights ({DEFAULT_MIX})")
    parser.add_argument(
        "--spread",
        choices=["rooms", "random", "none"],
        default="rooms",
        help="after hello, walk each player to its own target room (round robin over the\n"
        "world's rooms), or only random steps, or stay in the start room (rooms)",
    )
    parser.add_argument("--spread-steps", type=int, help="random steps (0 with rooms, else 10)")
    parser.add_argument("--setup-concurrency", type=int, default=32)
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--reply-timeout", type=float, default=10.0)
    parser.add_argument("--command-rate", default="1000/second", help="server's per-player cap")
    parser.add_argument("--compression", choices=["none", "deflate"], default="none")
    parser.add_argument(
        "--transport",
        choices=["websocket", "telnet"],
        default="websocket",
        help="players over WebSockets, or over telnet (signing in in-band; needs --start-server\n"
        "and --chars-per-account 1)",
    )
    parser.add_argument("--timeout", type=float, help=f"whole-run cap (≤ {MAX_OVERALL:.0f} s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-cprofile", help="write the server's cProfile stats here")
    parser.add_argument("--output", help="write the JSON here as well as to stdout")
    parser.add_argument("--no-uvloop", action="store_true", help="client on the asyncio loop")
    parser.add_argument(
        "--no-batch",
        action="store_true",
        help="WebSocket bots do not ask for batches: one frame per message (protocol 1-2)",
    )
    parser.add_argument(
        "--crowd",
        action="store_true",
        help="everyone stays in the start room with a look/say mix (look=1,say=1 unless --mix)",
    )
    args = parser.parse_args(argv)

    preset = PROFILES.get(args.profile or "", {})
    defaults = {"players": 100, "rate": 1.0, "saturate": False, "duration": 30.0}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, preset.get(key, value))
    if not 1 <= args.players <= MAX_PLAYERS:
        parser.error(f"--players must be 1–{MAX_PLAYERS}")
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be in (0, {MAX_DURATION:.0f}]")
    if not 0 <= args.warmup <= 30:
        parser.error("--warmup must be 0–30")
    if not args.saturate and not 0 < args.rate <= 50:
        parser.error("--rate must be in (0, 50]")
    if not 1 <= args.chars_per_account <= MAX_CHARS_PER_ACCOUNT:
        parser.error(f"--chars-per-account must be 1–{MAX_CHARS_PER_ACCOUNT}")
    if args.crowd:
        args.spread = "none"
        if args.mix == DEFAULT_MIX:
            args.mix = CROWD_MIX
    if args.spread_steps is None:
        args.spread_steps = 0 if args.spread == "rooms" else 10
    if not 0 <= args.spread_steps <= 50:
        parser.error("--spread-steps must be 0–50")
    args.setup_concurrency = max(1, min(args.setup_concurrency, 200))
    args.connect_concurrency = max(1, min(args.connect_concurrency, 500))
    args.reply_timeout = max(0.5, min(args.reply_timeout, 60.0))
    if args.url is not None:
        parts = urlsplit(args.url)
        if parts.scheme != "http":
            parser.error("--url must be http://127.0.0.1:PORT")
        require_loopback(parts.hostname, "--url")
    else:
        require_loopback(urlsplit(args.pg_url).hostname, "--pg-url")
    if args.transport == "telnet" and (args.url is not None or args.chars_per_account != 1):
        parser.error("--transport telnet needs --start-server and --chars-per-account 1")
    if args.server_cprofile:
        args.server_cprofile = Path(args.server_cprofile).resolve()
    budget = 180.0 + args.players * 0.15 + args.warmup + args.duration
    args.timeout = min(args.timeout or budget, MAX_OVERALL)
    return args


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await asyncio.wait_for(run(args), args.timeout)


def run_main(
    args: argparse.Namespace,
    main_async: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
    summary: Callable[[dict[str, Any]], str],
    *,
    use_uvloop: bool = True,
) -> int:
    """Run a bench's ``main_async`` (on uvloop when available), print its JSON report and the
    one-line summary; the exit status of the bench scripts."""
    try:
        runner: Any = asyncio.run
        if use_uvloop:
            with contextlib.suppress(ImportError):
                import uvloop

                runner = uvloop.run
        report = runner(main_async(args))
    except TimeoutError:
        log(f"gave up: the whole run exceeded --timeout {args.timeout:.0f} s")
        return 2
    except asyncio.CancelledError:
        log("interrupted")
        return 130
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(summary(report), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(args, main_async, summary_line, use_uvloop=not args.no_uvloop)


if __name__ == "__main__":
    sys.exit(main())
