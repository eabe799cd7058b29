"""What permessage-deflate costs and saves: bytes on the wire for a player's session, and CPU
per message, for the ways Kadath has compressed (issue 12).

    uv run python bench/deflate_cost.py                  # this checkout's server
    uv run python bench/deflate_cost.py --server-src <checkout of 8fb658b>/src   # older code

Starts ``kadath serve`` (SQLite, a temporary data directory, loopback only), makes two
characters, and plays a scripted session as the browser client does (``batch: true``,
permessage-deflate as websockets' client offers it, the same offer as Chromium's): the
recorded player looks, walks a loop of rooms and back, talks, asks for help, who and its
inventory, while the other player comes and goes and talks in the same room. Everything the
recorded player receives is kept: each message's payload as it came over the wire (its size,
and whether it was compressed) and its text.

``live`` is what this server sent (payload plus frame header bytes). ``offline`` runs the same
messages (their texts) through each way of compressing, in this process:

- ``none``: no compression;
- ``context_takeover``: one compressor per connection kept for the whole session (4 KiB
  window, ``memLevel`` 3: Kadath before issue 12's fourth pass), every message compressed;
- ``no_context_takeover``: each message compressed on its own by one shared compressor
  (``kadath.web.websocket_protocol.deflate_message``), those under ``COMPRESS_MIN`` bytes sent
  plain: Kadath now;
- ``no_context_takeover_all``: the same, every message compressed;
- ``no_context_takeover_32k_window``: as Kadath now, with a 32 KiB window (15 bits).

CPU: µs per message for each way, the best of ``--repeat`` passes over the session (the old
way's compressor is made once per pass, as a connection makes it once). One JSON document goes
to stdout, progress to stderr. For instruction counts on a busy machine, ``--save`` the
session's messages, then replay one way under callgrind (no server; nothing printed):

    uv run python bench/deflate_cost.py --save /tmp/session.json
    valgrind --tool=callgrind uv run python bench/deflate_cost.py \
        --replay /tmp/session.json --way context_takeover --passes 20   # and --passes 0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import httpx2
from websockets.asyncio.client import ClientConnection, connect
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame

from kadath.web.websocket_protocol import COMPRESS_MIN, WINDOW_BITS, deflate_message
from load import ServerProcess, admin_token, route, setup_players, world_map

WAIT = 15.0
OLD_MEM_LEVEL = 3  # what the connection's compressor used before (a 4 KiB window too)


def log(message: str) -> None:
    print(f"[deflate_cost {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def header_bytes(length: int) -> int:
    return 2 if length < 126 else 4 if length < 65536 else 10


class Recorder:
    """Reads a connection, keeping each message's wire payload size, RSV1 and text."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.wire: list[tuple[bool, int]] = []
        self.texts: list[str] = []
        self.frames: list[dict[str, Any]] = []
        self.replied: set[str] = set()
        self.arrived = asyncio.Event()
        (extension,) = ws.protocol.extensions
        assert isinstance(extension, PerMessageDeflate)
        decode = extension.decode

        def counting(frame: Frame, *, max_size: int | None = None) -> Frame:
            self.wire.append((frame.rsv1, len(frame.data)))
            return decode(frame, max_size=max_size)

        extension.decode = counting  # type: ignore[method-assign]
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for message in self.ws:
                text = message if isinstance(message, str) else message.decode()
                self.texts.append(text)
                parsed = json.loads(text)
                for frame in parsed if isinstance(parsed, list) else [parsed]:
                    self.frames.append(frame)
                    if frame.get("type") == "reply":
                        self.replied.add(str(frame.get("re")))
                        self.arrived.set()

    async def reply(self, frame_id: str) -> None:
        async with asyncio.timeout(WAIT):
            while frame_id not in self.replied:
                self.arrived.clear()
                await self.arrived.wait()


async def join(ws_url: str, token: str, name: str, batch: bool) -> ClientConnection:
    ws = await connect(ws_url, proxy=None, open_timeout=WAIT, compression="deflate")
    await ws.send(json.dumps({"type": "hello", "token": token, "player": name, "batch": batch}))
    return ws


async def session(server: ServerProcess, args: argparse.Namespace) -> Recorder:
    async with httpx2.AsyncClient(base_url=server.url, trust_env=False, timeout=60) as http:
        await server.wait_ready(http)
        await admin_token(http, "dc")
        made, _ = await setup_players(http, 2, 1, 2, "dc")
    (token, name), (other_token, other_name) = made
    ws_url = f"ws://127.0.0.1:{server.port}/ws"
    ws = await join(ws_url, token, name, args.batch)
    recorder = Recorder(ws)
    other = await join(ws_url, other_token, other_name, True)
    other_reader = asyncio.create_task(drain(other))
    mapped = world_map()
    assert mapped is not None
    start, exits = mapped
    far = sorted(exits, key=lambda room: -len(route(exits, start, room)))[0]
    there = route(exits, start, far)[:6]
    ids = iter(range(1, 1_000_000))

    async def command(text: str) -> None:
        frame_id = f"c{next(ids)}"
        await ws.send(json.dumps({"type": "command", "id": frame_id, "text": text}))
        await recorder.reply(frame_id)

    async def other_says(text: str) -> None:
        frame_id = f"o{next(ids)}"
        await other.send(json.dumps({"type": "command", "id": frame_id, "text": text}))
        await asyncio.sleep(0.05)

    for round_ in range(args.rounds):
        for text in ("look", "who", "inventory", "help", "say Good evening, all."):
            await command(text)
        await other_says(f"say Round {round_}: did you hear the whippoorwills?")
        await other_says("emote shivers and looks at the hills.")
        room = start
        for direction in there:
            await command(direction)
            room = exits[room][direction]
            await command("look")
        back = route(exits, room, start)
        for direction in back:
            await command(direction)
        await other_says("say Welcome back.")
        await other_says("north")
        await other_says("south")
        await command("say The stars are right tonight.")
    await asyncio.sleep(0.5)
    for sock in (ws, other):
        with contextlib.suppress(Exception):
            await sock.close()
    await asyncio.gather(recorder.task, other_reader, return_exceptions=True)
    return recorder


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


def old_way(messages: list[bytes]) -> list[bytes]:
    compressor = zlib.compressobj(wbits=-WINDOW_BITS, memLevel=OLD_MEM_LEVEL)
    return [(compressor.compress(m) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4] for m in messages]


def new_way(messages: list[bytes], threshold: int = COMPRESS_MIN) -> list[bytes]:
    return [deflate_message(m) if len(m) >= threshold else m for m in messages]


def wire(payloads: list[bytes]) -> int:
    return sum(len(p) + header_bytes(len(p)) for p in payloads)


def cpu_us(way: Any, messages: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        way(messages)
        best = min(best, time.perf_counter() - started)
    return round(best / len(messages) * 1e6, 2)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kadath-deflate-") as where:
        server = ServerProcess(Path(where), None, None)
        if args.server_src:  # the server's code only: this process's stays this checkout's
            os.environ["PYTHONPATH"] = args.server_src
        await server.start("100000/minute")
        os.environ.pop("PYTHONPATH", None)
        try:
            recorder = await session(server, args)
        finally:
            await server.stop()
    messages = [t.encode() for t in recorder.texts]
    raw = wire(messages)
    live = sum(size + header_bytes(size) for _, size in recorder.wire)
    compressed = [size for rsv1, size in recorder.wire if rsv1]
    report: dict[str, Any] = {
        "server_src": args.server_src or "this checkout",
        "batch": args.batch,
        "messages": len(messages),
        "frames": len(recorder.frames),
        "raw_payload_bytes": sum(len(m) for m in messages),
        "median_message_bytes": sorted(len(m) for m in messages)[len(messages) // 2],
        "messages_at_least_compress_min": sum(len(m) >= COMPRESS_MIN for m in messages),
        "live": {
            "wire_bytes": live,
            "messages_compressed": len(compressed),
            "ratio_to_raw": round(live / raw, 3),
        },
        "offline": {},
    }
    if args.save:
        await asyncio.to_thread(Path(args.save).write_text, json.dumps(recorder.texts))
    for label, way in WAYS.items():
        sent = wire(way(messages))
        report["offline"][label] = {
            "wire_bytes": sent,
            "ratio_to_raw": round(sent / raw, 3),
            "cpu_us_per_message": cpu_us(way, messages, args.repeat),
        }
    big = [m for m in messages if len(m) >= COMPRESS_MIN]
    if big:
        report["cpu_us_per_compressed_message"] = {
            "context_takeover": cpu_us(old_way, big, args.repeat),
            "no_context_takeover": cpu_us(new_way, big, args.repeat),
        }
    return report


WAYS: dict[str, Any] = {
    "none": lambda ms: ms,
    "context_takeover": old_way,
    "no_context_takeover": new_way,
    "no_context_takeover_all": lambda ms: new_way(ms, 0),
    "no_context_takeover_32k_window": lambda ms: [
        deflate_message(m, 15) if len(m) >= COMPRESS_MIN else m for m in ms
    ],
}


def replay(args: argparse.Namespace) -> None:
    """One way, ``--passes`` times over saved messages (for callgrind: the difference
    between N passes and 0 is the way's cost)."""
    messages = [t.encode() for t in json.loads(Path(args.replay).read_text())]
    way = WAYS[args.way]
    for _ in range(args.passes):
        way(messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times the session's loop is played")
    parser.add_argument("--repeat", type=int, default=200, help="passes for the CPU figures")
    parser.add_argument(
        "--no-batch", dest="batch", action="store_false", help="one frame a message (no batches)"
    )
    parser.add_argument("--server-src", help="the server's code (its PYTHONPATH): a src dir")
    parser.add_argument("--save", help="write the session's messages (JSON) here")
    parser.add_argument("--replay", help="no server: compress these saved messages (callgrind)")
    parser.add_argument("--way", choices=sorted(WAYS), default="no_context_takeover")
    parser.add_argument("--passes", type=int, default=20)
    args = parser.parse_args()
    if args.replay:
        replay(args)
        return
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
