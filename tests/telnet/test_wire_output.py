"""The bytes the telnet transport puts on the wire: text encoded once per terminal profile and
encoding with its IAC bytes doubled, prompts marked with EOR or GA, Kadath.Reply as telnetlib3
would frame it; and typed lines read a line at a time as they were a character at a time."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import textwrap
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from telnetlib3 import TelnetReaderUnicode, server_base
from telnetlib3.mud import gmcp_encode
from telnetlib3.telopt import ECHO, EOR, GMCP, SGA

from kadath.realtime.outgoing import Outgoing
from kadath.realtime.protocol import BadFrame, CommandFrame, command, parse
from kadath.realtime.transport import CommandTransport
from kadath.telnet import gmcp, render
from kadath.telnet.gmcp import GmcpClient
from kadath.telnet.lines import ERASE, Line, LineBuffer
from kadath.telnet.protocol import KadathTelnetProtocol, KadathWriter
from kadath.telnet.terminal_io import TerminalIO
from kadath.telnet.transport import GameView, TelnetTransport
from kadath.world import load_world

IAC_EOR, IAC_GA = b"\xff\xef", b"\xff\xf9"
WORLD = load_world()


class FakeSocket(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def write(self, data: Any) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class FakeProtocol:
    """What the writer and TerminalIO read of telnetlib3's server protocol."""

    def __init__(self, packages: set[str]) -> None:
        self.gmcp = GmcpClient()
        self.gmcp.packages.update(packages)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 4000)}.get(name, default)


class CountingSocket(FakeSocket):
    """Keeps each socket write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 4000)}.get(name, default)

    def close(self) -> None:
        pass


async def _no_items(player_id: Any) -> list[Any]:
    return []


def _transport(
    encoding: str = "utf8",
    options: tuple[bytes, ...] = (GMCP, EOR, SGA),
    packages: Any = (),
    socket: FakeSocket | None = None,
) -> tuple[TelnetTransport, FakeSocket]:
    socket = socket or FakeSocket()
    protocol = FakeProtocol(set(packages))
    writer = KadathWriter(socket, protocol, lambda **_: encoding, server=True)
    for option in options:
        writer.local_option[option] = True
    reader = TelnetReaderUnicode(fn_encoding=lambda **_: encoding)
    io = TerminalIO(reader, writer, max_line=1000, write_timeout=5.0)
    view = GameView(WORLD, lambda line: None, lambda line: False, _no_items)
    return TelnetTransport(io, view, "token", "Nadia"), socket


async def _show(transport: TelnetTransport, *frames: Outgoing) -> None:
    await transport.send_frames([(n, frame) for n, frame in enumerate(frames, 1)])
    await asyncio.sleep(0)  # the turn that writes the prompt and the held burst


async def test_iac_bytes_in_game_text_are_doubled() -> None:
    transport, socket = _transport(encoding="latin-1")  # ÿ is byte 255 (IAC) in latin-1
    said = {"type": "message", "channel": "say", "from": "Ann", "text": 'Ann says, "ÿes"'}
    await _show(transport, Outgoing(said))
    assert socket.data == b'Ann says, "\xff\xffes"\r\n'


async def test_one_frame_is_encoded_for_each_encoding_its_listeners_use() -> None:
    (utf8, to_utf8), (latin, to_latin) = _transport("utf8"), _transport("latin-1")
    said = Outgoing({"type": "message", "channel": "say", "from": "Ann", "text": "Ann hums, «é»"})
    await _show(utf8, said)
    await _show(latin, said)
    assert to_utf8.data == "Ann hums, «é»\r\n".encode()
    assert to_latin.data == "Ann hums, «é»\r\n".encode("latin-1")


async def test_the_prompt_ends_with_eor_or_with_ga_where_neither_eor_nor_sga_is_agreed() -> None:
    welcome = {
        "type": "welcome",
        "player": {"id": "5b0c2f46-43f5-4a28-9d43-6a1f6f0e8a11", "name": "Nadia", "health": 5},
    }
    reply = {"type": "reply", "re": "t1", "ok": True, "text": "Done."}
    shown = {}
    for name, options in {"eor": (EOR, SGA), "ga": (), "sga": (SGA,)}.items():
        transport, socket = _transport(options=options)
        await _show(transport, Outgoing(welcome))
        socket.data.clear()
        await _show(transport, Outgoing(reply))
        shown[name] = bytes(socket.data)
    prompt = b"\r\nDone.\r\n[HP 5/? Luc ?/100] > "  # a blank line first: the last prompt is open
    assert shown == {"eor": prompt + IAC_EOR, "ga": prompt + IAC_GA, "sga": prompt}


async def test_the_prompt_follows_new_vitals() -> None:
    transport, socket = _transport()
    await _show(transport, Outgoing({"type": "state", "vitals": {"health": 5, "max_health": 9}}))
    await _show(transport, Outgoing({"type": "state", "vitals": {"health": 7}}))
    assert socket.data.count(b"[HP 5/9") == 0  # a state frame alone shows no prompt
    await _show(transport, Outgoing({"type": "reply", "re": "t1", "ok": True, "text": "Hm."}))
    assert socket.data.endswith(b"[HP 7/9 Luc ?/100] > " + IAC_EOR)


async def test_kadath_reply_is_framed_as_telnetlib3_frames_gmcp() -> None:
    transport, socket = _transport(packages={"kadath.reply"})
    await _show(transport, Outgoing({"type": "reply", "re": "t7", "ok": False, "text": ""}))
    expected = gmcp_encode("Kadath.Reply", {"n": 7, "ok": False})
    assert socket.data == b"\xff\xfa\xc9" + expected + b"\xff\xf0"


@pytest.mark.parametrize(
    ("package", "data"),
    [
        ("Core.Ping", None),
        ("Comm.Channel.Text", {"channel": "say", "talker": "Ann", "text": 'ÿ «é» "hi"'}),
        ("Room.Players", [{"name": "Ann", "fullname": "Ann"}]),
    ],
)
def test_gmcp_messages_are_the_bytes_telnetlib3_makes(package: str, data: Any) -> None:
    ((_, message),) = gmcp.encoded([(package, data)])
    payload = gmcp_encode(package, data).replace(b"\xff", b"\xff\xff")
    assert message == b"\xff\xfa\xc9" + payload + b"\xff\xf0"


async def test_a_typed_line_becomes_the_command_it_says() -> None:
    transport, _socket = _transport()
    io = transport._io
    await transport.receive_text()  # the hello
    io._reader.feed_data('say "ÿes" \\ {[1]}\r\n'.encode())
    command = json.loads(await transport.receive_text())
    assert command == {"type": "command", "id": "t1", "text": 'say "ÿes" \\ {[1]}'}


def test_input_is_searched_for_special_characters_only_where_telnetlib3_acts_on_them() -> None:
    writer = KadathWriter(FakeSocket(), None, lambda **_: "utf8", server=True)
    assert not writer.slc_simulated  # local mode: MUD clients edit their own lines
    writer.local_option[ECHO] = True  # a password is being typed (kludge mode with SGA)
    writer.local_option[SGA] = True
    assert writer.slc_simulated


# -- typed lines: a line at a time, as a character at a time -----------------------------------
def _lines_char_by_char(limit: int, chunks: list[str]) -> list[Line]:
    """LineBuffer's rules, one character at a time (what it did before reading whole lines)."""
    chars: list[str] = []
    done: list[Line] = []
    overflow = after_cr = False
    for char in "".join(chunks):
        if char == "\n" and after_cr:
            after_cr = False
            continue
        after_cr = char == "\r"
        if char in "\r\n":
            done.append(Line("".join(chars).strip(), too_long=overflow))
            chars.clear()
            overflow = False
        elif char in ERASE:
            if chars and not overflow:
                chars.pop()
        elif char == "\t" or (ord(char) >= 32 and not 0x7F <= ord(char) < 0xA0):
            if overflow:
                continue
            if len(chars) >= limit:
                overflow = True
                chars.clear()
            else:
                chars.append(char)
    return done


TYPED = st.lists(
    st.text(alphabet=st.sampled_from(list("ab é\t\r\n\x7f\x08\x00\x1b\x9b")), max_size=20),
    max_size=8,
)


@given(limit=st.integers(min_value=1, max_value=12), chunks=TYPED)
def test_lines_read_whole_are_the_lines_read_a_character_at_a_time(
    limit: int, chunks: list[str]
) -> None:
    buffer = LineBuffer(limit)
    lines = [line for chunk in chunks for line in buffer.feed(chunk)]
    assert lines == _lines_char_by_char(limit, chunks)


# -- wrapping ------------------------------------------------------------------------------------
WORDS = st.lists(st.sampled_from(["a", "fog", "Miskatonic", " ", "  ", "x" * 30, "\t", "é—"]))


@given(words=WORDS, width=st.integers(min_value=20, max_value=100))
@example(words=["a", "a", "a", "a", "  ", "x" * 30, "x" * 30], width=21)  # found by hypothesis
def test_lines_are_wrapped_as_textwrap_wraps_them(words: list[str], width: int) -> None:
    line = " ".join(words)
    expected = textwrap.wrap(line, width, break_on_hyphens=False) or [""]
    assert render.wrap(line, width) == [part.rstrip(" \t") for part in expected]


async def test_the_encoding_follows_what_the_client_reports_late() -> None:
    protocol = KadathTelnetProtocol(encoding="utf8", force_binary=True)
    assert protocol.encoding(outgoing=True) == "utf8"
    assert protocol.encoding(incoming=True) == "utf8"
    protocol.on_charset("latin-1")
    assert protocol.encoding(outgoing=True) == "latin-1"
    assert protocol.encoding(incoming=True) == "latin-1"


# -- the command path: no JSON round trip, one loop callback per burst ---------------------------
async def test_a_typed_line_is_handed_over_as_a_command_not_as_json() -> None:
    transport, _socket = _transport()
    io = transport._io
    assert isinstance(transport, CommandTransport)
    assert json.loads(str(await transport.receive_frame()))["type"] == "hello"
    io._reader.feed_data('say "ÿes" \\ {[1]}\r\nlook\r\n'.encode())
    assert await transport.receive_frame() == CommandFrame("t1", 'say "ÿes" \\ {[1]}')
    assert json.loads(await transport.receive_text()) == {  # as a relay forwards it
        "type": "command",
        "id": "t2",
        "text": "look",
    }


@given(
    frame_id=st.text(max_size=70),
    text=st.text(alphabet=st.sampled_from(list('ab é\t\x00\x1b\n"\\{[')), max_size=14),
    max_line=st.integers(min_value=1, max_value=12),
)
def test_a_command_handed_over_is_held_to_the_rules_of_a_parsed_one(
    frame_id: str, text: str, max_line: int
) -> None:
    raw = json.dumps({"type": "command", "id": frame_id, "text": text})
    # the limit on a whole frame's JSON is not a command's: a telnet line's JSON is at most
    # about twice the line (quotes and backslashes escaped), far below it
    assume(len(raw) <= max_line * 4 + 256)
    try:
        expected: Any = parse(raw, max_line=max_line)
    except BadFrame as exc:
        expected = (exc.code, str(exc), exc.re)
    try:
        made: Any = command(frame_id, text, max_line=max_line)
    except BadFrame as exc:
        made = (exc.code, str(exc), exc.re)
    assert made == expected


async def test_a_reply_its_acknowledgement_and_the_prompt_leave_in_one_write_on_one_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    socket = CountingSocket()
    transport, _ = _transport(packages={"kadath.reply", "room"}, socket=socket)
    await _show(transport, Outgoing({"type": "state", "vitals": {"health": 5, "max_health": 9}}))
    socket.writes.clear()
    loop = asyncio.get_running_loop()
    scheduled: list[Any] = []
    real_call_soon = loop.call_soon

    def call_soon(callback: Any, *args: Any, **kwargs: Any) -> asyncio.Handle:
        scheduled.append(callback)
        return real_call_soon(callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_soon", call_soon)
    room = {"type": "room", "room": {"id": "r", "name": "Hall", "exits": []}, "text": "Hall"}
    await transport.send_frames([(1, Outgoing(room))])  # one command's frames, two batches
    reply = {"type": "reply", "re": "t3", "ok": True, "text": "Done."}
    await transport.send_frames([(2, Outgoing(reply))])
    assert len(scheduled) == 1  # the release, which writes the prompt too
    monkeypatch.undo()
    assert socket.writes == []
    await asyncio.sleep(0)
    gmcp_room = b"".join(message for _, message in gmcp.encoded(gmcp.messages(room, WORLD)))
    prompt = b"[HP 5/9 Luc ?/100] > " + IAC_EOR
    ack = b'\xff\xfa\xc9Kadath.Reply {"n":3,"ok":true}\xff\xf0'
    assert socket.writes == [gmcp_room + b"Hall\r\nDone.\r\n" + ack + prompt]


async def test_a_closing_connection_gets_no_prompt_after_its_last_burst() -> None:
    socket = CountingSocket()
    transport, _ = _transport(socket=socket)
    await _show(transport, Outgoing({"type": "state", "vitals": {"health": 5, "max_health": 9}}))
    await transport.send_frames([(1, Outgoing({"type": "reply", "re": "t1", "ok": True}))])
    transport._io._writer.close()  # as the shell does when the client went away
    await asyncio.sleep(0)
    assert b"".join(socket.writes) == b""


async def test_typed_text_skips_telnetlib3s_scan_and_commands_still_take_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanned: list[bytes] = []
    real_scan = server_base._process_data_chunk

    def scan(data: bytes, *args: Any) -> bool:
        scanned.append(data)
        return real_scan(data, *args)

    monkeypatch.setattr(server_base, "_process_data_chunk", scan)
    protocol = KadathTelnetProtocol(encoding="utf8", force_binary=True)
    protocol.connection_made(CountingSocket())
    assert protocol.reader is not None
    protocol.data_received(b"hi\r\n")  # the first input: telnetlib3 looks at it (TLS?)
    assert scanned == [b"hi\r\n"]
    protocol.data_received("look\r\nsay é\r\n".encode())
    assert scanned == [b"hi\r\n"]
    assert await protocol.reader.read(100) == "hi\r\nlook\r\nsay é\r\n"
    protocol.data_received(b"say \xff\xff!\r\n")  # an escaped IAC: telnetlib3 reads it
    assert scanned[1:] == [b"say \xff\xff!\r\n"]
    protocol.data_received(b"\xff\xfb\x18")  # IAC WILL TTYPE
    assert len(scanned) == 3 and protocol.writer is not None
    assert protocol.writer.remote_option.enabled(b"\x18")
    protocol.connection_lost(None)


def test_a_rooms_gmcp_is_the_same_bytes_with_room_info_made_once_per_room() -> None:
    for room in WORLD.rooms.values():
        view = {"id": room.id, "players": ["Ann", "ÿ"], "npcs": ["Ghoul"]}
        frame = {"type": "room", "room": view, "text": room.name}
        assert gmcp.encoded_frame(frame, WORLD) == gmcp.encoded(gmcp.messages(frame, WORLD))
        assert gmcp.encoded_frame(frame, WORLD)[0][1] is gmcp.encoded_frame(frame, WORLD)[0][1]


def test_room_info_is_made_again_for_a_room_the_world_replaced() -> None:
    room = next(iter(WORLD.rooms.values()))
    frame = {"type": "room", "room": {"id": room.id}, "text": ""}
    before = gmcp.encoded_frame(frame, WORLD)[0][1]
    renamed = dataclasses.replace(room, name="The Renamed Hall")
    world = dataclasses.replace(WORLD, rooms={**WORLD.rooms, room.id: renamed})
    after = gmcp.encoded_frame(frame, world)[0][1]
    assert b"The Renamed Hall" in after and b"The Renamed Hall" not in before
    assert gmcp.encoded_frame(frame, WORLD)[0][1] == before


async def test_a_tls_hello_as_first_input_still_closes_the_connection() -> None:
    socket = CountingSocket()
    closed: list[bool] = []
    socket.close = lambda: closed.append(True)  # type: ignore[method-assign]
    protocol = KadathTelnetProtocol(encoding="utf8", force_binary=True)
    protocol.connection_made(socket)
    protocol.data_received(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # no IAC byte in it
    assert closed == [True]
    protocol.connection_lost(None)
