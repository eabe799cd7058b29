"""The telnet transport's own cost per batch of frames, in process (no server, no socket).

    uv run python bench/telnet_output.py [--rounds 20000] [--profile FILE]

A ``TelnetTransport`` over the real ``TerminalIO`` and ``KadathWriter``, writing into a socket
transport that only counts bytes, is handed the batches one command makes in
``bench/load.py``'s mix (a look's room view and reply, a say's reply and its listener's copy,
a walk's arrival, a score's lines), each a fresh ``Outgoing`` as the Hub sends it; every
round runs the loop's turn that writes the prompt and the held burst. Printed: the median of
five timings of each scenario, in µs of this process's CPU per batch, and of typed lines read
(a line in, the command the connection dispatches out). Read it against the end-to-end
figures of ``bench/load.py``: this is the
part of a command's server CPU that is telnet's own.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from telnetlib3 import TelnetReaderUnicode
from telnetlib3.telopt import EOR, GMCP, SGA

from kadath.realtime.outgoing import Delivery, Outgoing
from kadath.realtime.protocol import parse
from kadath.telnet.gmcp import GmcpClient
from kadath.telnet.protocol import KadathWriter
from kadath.telnet.terminal_io import TerminalIO
from kadath.telnet.transport import GameView, TelnetTransport
from kadath.world import load_world

try:
    from kadath.realtime.protocol import command
except ImportError:  # before commands were handed over
    command = None  # type: ignore[assignment]

WORLD = load_world()
# CPU time of this process: on a machine shared with other work, wall time measures the queue
clock = time.process_time
ROOM = WORLD.rooms[next(iter(WORLD.rooms))]


class CountingSocket(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.writes = 0

    def write(self, data: Any) -> None:
        self.bytes += len(data)
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 4000) if name == "peername" else default


class FakeProtocol:
    """What the writer and TerminalIO read of telnetlib3's server protocol."""

    def __init__(self) -> None:
        self.gmcp = GmcpClient()
        self.gmcp.packages.update({"room", "kadath.reply"})  # as bench/load.py's bots
        self.extra: dict[str, Any] = {"peername": ("127.0.0.1", 4000), "cols": 100}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


def room_frame() -> dict[str, Any]:
    exits = ", ".join(d.value for d in ROOM.exits)
    text = f"{ROOM.name}\n{ROOM.description}\nExits: {exits}.\nHere: Ann and Bob."
    view = {
        "id": ROOM.id,
        "name": ROOM.name,
        "zone": "Arkham",
        "description": ROOM.description,
        "exits": [d.value for d in ROOM.exits],
        "players": ["Ann", "Bob"],
        "npcs": [],
        "items": [],
        "containers": [],
        "flags": [],
    }
    return {"type": "room", "room": view, "text": text}


def scenarios() -> dict[str, Callable[[int], list[dict[str, Any]]]]:
    state = {
        "type": "state",
        "vitals": {"health": 20, "max_health": 22, "lucidity": 97, "max_lucidity": 100},
    }
    score = "\n".join(f"Line {n} of your score: strength 12, dexterity 11." for n in range(12))
    return {
        "look (room + reply)": lambda n: [
            room_frame(),
            {"type": "reply", "re": f"t{n}", "ok": True, "text": ""},
        ],
        "say (reply)": lambda n: [
            {"type": "reply", "re": f"t{n}", "ok": True, "text": 'You say, "the stars are right"'}
        ],
        "say heard": lambda n: [
            {"type": "message", "channel": "say", "from": "Ann", "text": 'Ann says, "hello"'}
        ],
        "arrival heard": lambda n: [
            {"type": "event", "event": "arrived", "name": "Ann", "text": "Ann arrives."}
        ],
        "score (12 lines)": lambda n: [{"type": "reply", "re": f"t{n}", "ok": True, "text": score}],
        "state": lambda n: [state],
    }


async def no_items(player_id: Any) -> list[Any]:
    return []


def make_transport() -> tuple[TelnetTransport, CountingSocket, TerminalIO]:
    socket = CountingSocket()
    protocol = FakeProtocol()
    reader = TelnetReaderUnicode(fn_encoding=lambda **_: "utf8")
    writer = KadathWriter(socket, protocol, lambda **_: "utf8", server=True)
    writer.local_option[GMCP] = True
    writer.local_option[EOR] = True
    writer.local_option[SGA] = True
    io = TerminalIO(reader, writer, max_line=1000, write_timeout=30.0)
    view = GameView(WORLD, lambda line: None, lambda line: False, no_items)
    transport = TelnetTransport(io, view, "token", "Nadia")
    transport._vitals.update({"health": 22, "max_health": 22, "lucidity": 100})
    return transport, socket, io


async def time_batches(make: Callable[[int], list[dict[str, Any]]], rounds: int) -> float:
    transport, _socket, _io = make_transport()
    batches: list[list[Delivery]] = [
        [(n, Outgoing(frame)) for frame in make(n)] for n in range(rounds)
    ]
    start = clock()
    for batch in batches:
        await transport.send_frames(batch)
        await asyncio.sleep(0)  # the turn that writes the prompt and the held burst
    return (clock() - start) / rounds * 1e6


async def time_sleep(rounds: int) -> float:
    start = clock()
    for _ in range(rounds):
        await asyncio.sleep(0)
    return (clock() - start) / rounds * 1e6


async def time_lines(rounds: int) -> float:
    """A typed line in, the command the connection dispatches out (through JSON where the
    transport hands over text, as it did before it handed over commands)."""
    transport, _socket, io = make_transport()
    await transport.receive_text()  # the hello
    reader = io._reader
    receive = getattr(transport, "receive_frame", transport.receive_text)
    start = clock()
    for n in range(rounds):
        reader.feed_data(b"say the stars are right %d\r\n" % n)
        raw = await receive()
        if isinstance(raw, str):
            parse(raw, max_line=1000)
        else:
            command(raw.id, raw.text, max_line=1000)
    return (clock() - start) / rounds * 1e6


async def run(rounds: int) -> None:
    baseline = statistics.median([await time_sleep(rounds) for _ in range(5)])
    print(f"{'(a turn of the loop, subtracted)':28} {baseline:7.1f} µs")
    for name, make in scenarios().items():
        cost = statistics.median([await time_batches(make, rounds) for _ in range(5)])
        print(f"{name:28} {cost - baseline:7.1f} µs/batch")
    lines = statistics.median([await time_lines(rounds) for _ in range(5)])
    print(f"{'typed line read':28} {lines:7.1f} µs/line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--profile", help="write cProfile stats of one pass here")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, run(args.rounds))
        profiler.dump_stats(args.profile)
    else:
        asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
