"""A chunk that is exactly one typed line goes to the line reader whole (``KadathTelnetProtocol``
``data_received``), skipping telnetlib3's scan, the reader's buffer and decoder and the line
buffer: it must give what the slow path gives, whatever came before and after it (lines with
IAC, lines split across chunks, several lines in a chunk, UTF-8, CR NUL, a subnegotiation in
flight, a line over the limit, a partial character held by the decoder)."""

from __future__ import annotations

import asyncio
import datetime
import itertools
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from telnetlib3 import TelnetServer

from kadath.realtime.transport import TransportClosed
from kadath.telnet.lines import Line
from kadath.telnet.protocol import AddressGate, KadathReader, KadathTelnetProtocol
from kadath.telnet.terminal_io import TerminalIO

IAC, SB, SE, NOP, DO, GMCP = 255, 250, 240, 241, 253, 201


class Socket(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = bytearray()

    def write(self, data: Any) -> None:
        self.sent += data

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


class Fast(KadathTelnetProtocol):
    gate = AddressGate(1000)
    handed_over = 0

    def _one_line(self, reader: KadathReader, data: bytes) -> bool:
        taken = super()._one_line(reader, data)
        self.handed_over += taken
        return taken


class Slow(KadathTelnetProtocol):
    """Every byte through telnetlib3's own scan, as before any fast path."""

    gate = AddressGate(1000)

    def data_received(self, data: bytes) -> None:
        TelnetServer.data_received(self, data)


async def _read(
    protocol_class: type[KadathTelnetProtocol],
    chunks: list[bytes],
    pauses: list[bool],
    max_line: int,
) -> tuple[list[Line], dict[str, str], set[str], bytes, int]:
    """The lines read, the GMCP hello and packages taken, and what was written back."""
    protocol = protocol_class(
        shell=None,
        encoding="utf8",
        encoding_errors="replace",
        force_binary=True,
        connect_maxwait=30,
        limit=8192,
        timeout=1800,
    )
    socket = Socket()
    protocol.connection_made(socket)
    await asyncio.sleep(0)  # the server's offers
    protocol.data_received(bytes([IAC, DO, GMCP]))  # GMCP agreed: subnegotiations are read
    assert protocol.reader is not None and protocol.writer is not None
    io = TerminalIO(protocol.reader, protocol.writer, max_line=max_line, write_timeout=30)
    lines: list[Line] = []

    async def read() -> None:
        try:
            while True:
                lines.append(await io.read_line())
        except TransportClosed:
            pass

    task = asyncio.ensure_future(read())
    await asyncio.sleep(0)
    for chunk, pause in zip(chunks, pauses, strict=True):
        protocol.data_received(chunk)
        if pause:  # the reader takes what came before the next chunk arrives
            for _ in range(3):
                await asyncio.sleep(0)
    protocol.reader.feed_eof()
    await task
    gmcp = protocol.gmcp
    sent = bytes(socket.sent)
    handed = getattr(protocol, "handed_over", 0)
    protocol.connection_lost(None)
    return lines, dict(gmcp.hello), set(gmcp.packages), sent, handed


def _both(
    chunks: list[bytes], pauses: list[bool], max_line: int = 40
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    async def run() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        fast = await _read(Fast, chunks, pauses, max_line)
        slow = await _read(Slow, chunks, pauses, max_line)
        return fast, slow

    return asyncio.run(run())


PIECES = st.sampled_from(
    [
        b"look\r\n",
        b"say hi there\r\n",
        b"  north \t\r\n",
        b"\r\n",
        b"sa",
        b"y hi\r",
        b"\n",
        b"x" * 45 + b"\r\n",  # over the limit
        b"x" * 40 + b"\r\n",  # at the limit
        "say é—ok\r\n".encode(),
        "é".encode()[:1],  # a character cut in two
        "é".encode()[1:],
        b"say \xff\xff ja\r\n",  # an escaped IAC
        b"look\r\x00",  # CR NUL
        b"bad\x1b[31m\x07\r\n",
        b"ba\x08d\x7f\r\n",
        bytes([IAC, NOP]),
        bytes([IAC, SB, GMCP]) + b'Core.Hello {"client":"Mudlet"}' + bytes([IAC, SE]),
        bytes([IAC, SB, GMCP]) + b"Core.Supports.Set ",  # a subnegotiation left open ...
        b'["Room 1"]\r\n',  # ... which a line-shaped chunk does not close
        bytes([IAC, SE]),
        bytes([IAC]),  # an IAC whose command comes in the next chunk
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(PIECES, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    pauses=st.lists(st.booleans(), min_size=24, max_size=24),
    whole=st.booleans(),
)
@example(pieces=[b"look\r\n", b"say hi there\r\n"], cuts=[], pauses=[True] * 24, whole=True)
def test_lines_handed_over_whole_are_the_lines_read_byte_by_byte(
    pieces: list[bytes], cuts: list[int], pauses: list[bool], whole: bool
) -> None:
    if whole:  # each piece a chunk of its own (a client's write per line)
        chunks = [piece for piece in pieces if piece]
    else:  # the stream cut anywhere
        stream = b"".join(pieces)
        points = sorted({0, len(stream), *(cut for cut in cuts if cut < len(stream))})
        chunks = [stream[a:b] for a, b in itertools.pairwise(points) if b > a]
    fast, slow = _both(chunks, pauses[: len(chunks)])
    assert fast[:4] == slow[:4]


def test_a_typed_line_alone_in_its_chunk_is_handed_over_whole() -> None:
    chunks = [b"look\r\n", b"say hi\r\n", b"north\r\n"]
    fast, slow = _both(chunks, [True] * 3)
    assert fast[0] == slow[0] == [Line("look"), Line("say hi"), Line("north")]
    # not the first: telnetlib3 counts the byte before it (the end of IAC DO GMCP) as a
    # command's until it has read another, and the chunk goes through its scan
    assert fast[4] == 2


def test_no_line_is_handed_over_inside_a_subnegotiation() -> None:
    opened = bytes([IAC, SB, GMCP]) + b"Core.Supports.Set "
    chunks = [opened, b'["Room 1"]\r\n', bytes([IAC, SE]), b"look\r\n", b"north\r\n"]
    fast, slow = _both(chunks, [True] * 5)
    assert fast[:4] == slow[:4]
    assert fast[0] == [Line("look"), Line("north")] and fast[2] == {"room"}
    assert fast[4] == 1  # only the last (after IAC SE, telnetlib3 reads the next chunk)


def test_no_line_is_handed_over_after_part_of_a_line_or_a_character() -> None:
    for first in (b"sa", "é".encode()[:1], b"x" * 45, b"look\r"):
        chunks = [b"warm\r\n", first, b"y hi\r\n"]
        fast, slow = _both(chunks, [True] * 3)
        assert fast[:4] == slow[:4], first
        assert fast[4] == 0, first  # the first input goes through telnetlib3; then part-lines


def test_lines_queued_before_the_reader_runs_keep_their_order() -> None:
    chunks = [b"one\r\n", b"tw", b"o\r\n", b"three\r\n", "fé\r\n".encode(), b"five\r\n"]
    fast, slow = _both(chunks, [False] * 6)
    assert fast[0] == slow[0]
    assert [line.text for line in fast[0]] == ["one", "two", "three", "fé", "five"]


def test_input_taken_by_the_fast_path_counts_as_activity() -> None:
    """telnetlib3's ``idle`` (from ``_last_received``) follows input on the fast path, which
    notes the loop's time instead of reading the wall clock for every chunk."""

    async def run() -> None:
        protocol = Fast(shell=None, encoding="utf8", force_binary=True, timeout=1800)
        protocol.connection_made(Socket())
        await asyncio.sleep(0)
        protocol.data_received(bytes([IAC, DO, GMCP]))  # through telnetlib3: a datetime
        first = protocol._last_received
        assert first is not None and protocol.reader is not None and protocol.writer is not None
        io = TerminalIO(protocol.reader, protocol.writer, max_line=100, write_timeout=30)
        protocol.data_received(b"warm\r\n")  # after a command's last byte: through telnetlib3
        assert await io.read_line() == Line("warm")
        protocol.data_received(b"look\r\n")
        assert protocol.handed_over == 1
        assert await io.read_line() == Line("look")
        later = protocol._last_received
        assert later is not None and later >= first - datetime.timedelta(seconds=1)
        assert protocol.idle >= 0
        protocol.data_received(bytes([IAC, NOP]))  # telnetlib3 sets it again
        assert protocol._last_received is not None and protocol.idle >= 0
        protocol.connection_lost(None)

    asyncio.run(run())
