"""A telnet command's whole cycle in process: bytes typed in, the command handed over, the
reply's frames rendered, the bytes written out. No socket, no game.

    uv run python bench/telnet_cycle.py [--commands 20000] [--profile FILE] [--once]

One ``KadathTelnetProtocol`` (telnetlib3's server protocol with Kadath's parts) over a fake
socket transport, negotiated as ``bench/load.py``'s bots negotiate (SGA, EOR and GMCP agreed,
``Core.Supports.Set ["Room 1", "Kadath.Reply 1"]``, everything else refused), runs the real
shell pieces: ``TerminalIO`` and ``TelnetTransport``. Each command is one chunk handed to
``data_received`` (``look\\r\\n`` ...); the shell takes the ``CommandFrame``, checks it as the
connection does (``realtime.protocol.command``), and answers with the frames the game sends
for it in ``bench/load.py``'s mix (a look or a step: the room view and the reply; a say: the
reply; a score: a 12-line reply), through ``send_frames_now`` as the Hub's direct path does;
the cycle ends when the burst (text, GMCP, ``Kadath.Reply``, prompt) is written.

The loop is uvloop by default, as the server runs (``--loop asyncio`` for the standard one).
Printed: CPU µs per command (median of five passes; noisy on a shared machine). For counts
that do not depend on the load, run it under callgrind with two command counts and take the
difference (start-up cancels out)::

    valgrind --tool=callgrind --callgrind-out-file=OUT .venv/bin/python \
        bench/telnet_cycle.py --once --commands 1000    # and again with 3000
    # instructions per command = (Ir(3000) - Ir(1000)) / 2000   ("Collected" in its log)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kadath.realtime.outgoing import Outgoing
from kadath.realtime.protocol import command as check_command
from kadath.realtime.transport import TransportClosed
from kadath.telnet.protocol import KadathTelnetProtocol
from kadath.telnet.terminal_io import TerminalIO
from kadath.telnet.transport import GameView, TelnetTransport
from kadath.world import load_world

WORLD = load_world()
ROOM = WORLD.rooms[next(iter(WORLD.rooms))]
IAC, SB, SE, WILL, WONT, DO, DONT = 255, 250, 240, 251, 252, 253, 254
SGA, EOR, GMCP = 3, 25, 201
ACCEPT = {SGA, EOR, GMCP}
LINES = [b"look\r\n", b"say the stars are right\r\n", b"score\r\n", b"north\r\n"]
SCORE = "\n".join(f"Line {n} of your score: strength 12, dexterity 11." for n in range(12))


def _room_view() -> dict[str, Any]:
    return {
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


VIEW = _room_view()
EXITS = ", ".join(VIEW["exits"])
ROOM_TEXT = f"{ROOM.name}\n{ROOM.description}\nExits: {EXITS}.\nHere: Ann and Bob."


def room_frame() -> dict[str, Any]:
    """A fresh room frame, as the game makes one per look (its making kept out of the way:
    the bench measures telnet's share)."""
    view = {**VIEW, "exits": [*VIEW["exits"]], "players": ["Ann", "Bob"]}
    return {"type": "room", "room": view, "text": ROOM_TEXT}


def answer(text: str, command_id: str) -> list[dict[str, Any]]:
    """The frames the game sends for a typed command (fresh dicts, as the Hub's are)."""
    word = text.split(maxsplit=1)[0]
    if word in ("look", "north"):
        return [room_frame(), {"type": "reply", "re": command_id, "ok": True, "text": ""}]
    if word == "say":
        said = f'You say, "{text[4:]}"'
        return [{"type": "reply", "re": command_id, "ok": True, "text": said}]
    return [{"type": "reply", "re": command_id, "ok": True, "text": SCORE}]


class FakeSocket(asyncio.Transport):
    """The server's socket: counts what is written and wakes the client on each write."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.writes = 0
        self.waiter: asyncio.Future[None] | None = None
        self.protocol: KadathTelnetProtocol | None = None
        self.last = b""

    def write(self, data: Any) -> None:
        self.bytes += len(data)
        self.writes += 1
        self.last = bytes(data)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def client_answers(data: bytes) -> bytes:
    """What bench/load.py's bot answers to the server's offers in ``data``."""
    out = bytearray()
    i = 0
    while (at := data.find(IAC, i)) >= 0 and at + 2 < len(data):
        cmd, opt = data[at + 1], data[at + 2]
        if cmd == WILL:
            out += bytes([IAC, DO if opt in ACCEPT else DONT, opt])
            if opt == GMCP:
                body = "Core.Supports.Set " + json.dumps(["Room 1", "Kadath.Reply 1"])
                out += bytes([IAC, SB, GMCP]) + body.encode() + bytes([IAC, SE])
        elif cmd == DO:
            out += bytes([IAC, WONT, opt])
        i = at + 2
    return bytes(out)


async def no_items(player_id: Any) -> list[Any]:
    return []


async def one_pass(commands: int) -> float:
    """CPU seconds of ``commands`` typed commands, each to its written reply."""
    loop = asyncio.get_running_loop()
    socket = FakeSocket()
    offers = bytearray()
    socket.write = offers.extend  # type: ignore[method-assign]  # until negotiated
    started: asyncio.Future[TelnetTransport] = loop.create_future()
    view = GameView(WORLD, lambda line: None, lambda line: False, no_items)

    async def shell(reader: Any, writer: Any) -> None:
        io = TerminalIO(reader, writer, max_line=1000, write_timeout=30.0)
        transport = TelnetTransport(io, view, "token", "Nadia")
        transport._vitals.update({"health": 22, "max_health": 22, "lucidity": 100})
        await transport.receive_frame()  # the hello
        started.set_result(transport)
        while True:
            try:
                frame = await transport.receive_frame()
            except TransportClosed:
                return
            assert not isinstance(frame, str)
            checked = check_command(frame.id, frame.text, max_line=1000)
            batch = [(0, Outgoing(f)) for f in answer(checked.text, checked.id)]
            if not transport.send_frames_now(batch):
                await transport.send_frames(batch)

    protocol = KadathTelnetProtocol(
        shell=shell,
        encoding="utf8",
        encoding_errors="replace",
        force_binary=True,
        connect_maxwait=0.05,
        limit=8192,
        timeout=1800,
    )
    protocol.gate = type(protocol.gate)(1000)
    protocol.connection_made(socket)
    for _ in range(5):
        await asyncio.sleep(0)
    protocol.data_received(client_answers(bytes(offers)))
    transport = await asyncio.wait_for(started, 5)
    del socket.write  # the counting write from here on
    socket.waiter = loop.create_future()
    protocol.data_received(b"look\r\n")  # one warm-up command
    await socket.waiter
    start = time.process_time()
    for n in range(commands):
        socket.waiter = loop.create_future()
        protocol.data_received(LINES[n % len(LINES)])
        await socket.waiter
    spent = time.process_time() - start
    assert b"Kadath.Reply" in socket.last, socket.last
    await transport.close(1000, "")
    protocol.connection_lost(None)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=20000)
    parser.add_argument("--once", action="store_true", help="one pass, no figures (callgrind)")
    parser.add_argument("--profile", help="write cProfile stats of one pass here")
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the event loop (uvloop: what uvicorn runs the server on when it is installed)",
    )
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, one_pass(args.commands))
        profiler.dump_stats(args.profile)
        return
    if args.once:
        asyncio.run(one_pass(args.commands))
        return
    passes = [asyncio.run(one_pass(args.commands)) for _ in range(5)]
    per = statistics.median(passes) / args.commands * 1e6
    print(f"telnet cycle: {per:.1f} µs CPU per command (median of 5 × {args.commands})")


if __name__ == "__main__":
    main()
