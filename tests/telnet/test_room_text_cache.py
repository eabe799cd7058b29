"""A room view's bytes (and a reply's of several lines) are kept per (its text, terminal
profile): the same view for the same terminal is rendered once, and a change to the room (its
text), to the window's width (NAWS) or to the colours the client reports (TTYPE / MTTS) shows
at once; an error reply keeps its own colour."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telnetlib3 import TelnetReaderUnicode
from telnetlib3.telopt import EOR, GMCP, SGA

from kadath.realtime.outgoing import Outgoing
from kadath.telnet import render
from kadath.telnet import transport as telnet_transport
from kadath.telnet.gmcp import GmcpClient
from kadath.telnet.protocol import KadathWriter
from kadath.telnet.terminal import Mtts, Terminal
from kadath.telnet.terminal_io import TerminalIO
from kadath.telnet.transport import GameView, TelnetTransport
from kadath.world import load_world

WORLD = load_world()
DESCRIPTION = " ".join(["The fog rolls over the wet cobbles of the harbour street."] * 3)


class Socket(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def write(self, data: Any) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class Protocol:
    """A client's terminal as telnetlib3's protocol reports it, changed as a client would."""

    def __init__(self) -> None:
        self.gmcp = GmcpClient()
        self.terminal_changes = 0
        self.extra: dict[str, Any] = {"peername": ("127.0.0.1", 4000), "cols": 80}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def report(self, **extra: Any) -> None:
        self.extra.update(extra)
        self.terminal_changes += 1  # as on_naws / on_ttype count them


async def _no_items(player_id: Any) -> list[Any]:
    return []


def _client() -> tuple[TelnetTransport, Socket, Protocol]:
    socket, protocol = Socket(), Protocol()
    writer = KadathWriter(socket, protocol, lambda **_: "utf8", server=True)
    for option in (GMCP, EOR, SGA):
        writer.local_option[option] = True
    reader = TelnetReaderUnicode(fn_encoding=lambda **_: "utf8")
    io = TerminalIO(reader, writer, max_line=1000, write_timeout=5.0)
    view = GameView(WORLD, lambda line: None, lambda line: False, _no_items)
    return TelnetTransport(io, view, "token", "Nadia"), socket, protocol


def _room(description: str = DESCRIPTION) -> Outgoing:
    text = f"Harbour Street\n{description}\nExits: north, south"
    return Outgoing({"type": "room", "room": {"id": "nowhere"}, "text": text})


async def _shown(transport: TelnetTransport, socket: Socket, frame: Outgoing) -> str:
    socket.data.clear()
    await transport.send_frames([(1, frame)])
    await asyncio.sleep(0)
    return socket.data.decode()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[Terminal]:
    telnet_transport._texts.clear()
    made: list[Terminal] = []
    real = render.render

    def counting(frame: Any, terminal: Terminal) -> list[str]:
        made.append(terminal)
        return real(frame, terminal)

    monkeypatch.setattr(telnet_transport.render, "render", counting)
    return made


async def test_the_same_view_is_rendered_once_for_the_same_terminal(
    renders: list[Terminal],
) -> None:
    (one, to_one, _), (two, to_two, _) = _client(), _client()
    first = await _shown(one, to_one, _room())
    again = await _shown(one, to_one, _room())  # another look: a new frame, the same text
    other = await _shown(two, to_two, _room())  # someone else's look, the same terminal
    assert first == again == other
    assert first.startswith("Harbour Street\r\n") and first.endswith("Exits: north, south\r\n")
    assert len(renders) == 1


async def test_a_changed_room_is_rendered_again(renders: list[Terminal]) -> None:
    transport, socket, _ = _client()
    await _shown(transport, socket, _room())
    changed = await _shown(transport, socket, _room("Nadia is here. " + DESCRIPTION))
    assert "Nadia is here." in changed
    assert len(renders) == 2


async def test_a_new_width_from_naws_wraps_the_next_view_at_it(renders: list[Terminal]) -> None:
    transport, socket, protocol = _client()
    wide = await _shown(transport, socket, _room())
    protocol.report(cols=40)
    narrow = await _shown(transport, socket, _room())
    assert max(map(len, wide.split("\r\n"))) > 40
    assert max(map(len, narrow.split("\r\n"))) <= 40
    assert [terminal.width for terminal in renders] == [80, 40]


async def test_colours_reported_later_colour_the_next_view(renders: list[Terminal]) -> None:
    transport, socket, protocol = _client()
    plain = await _shown(transport, socket, _room())
    protocol.report(ttype1="Mudlet", ttype2="xterm", ttype3=f"MTTS {int(Mtts.ANSI)}")
    coloured = await _shown(transport, socket, _room())
    protocol.report(ttype3=f"MTTS {int(Mtts.ANSI | Mtts.COLOURS_256)}")
    richer = await _shown(transport, socket, _room())
    assert "\x1b[" not in plain
    assert coloured.startswith("\x1b[1;37mHarbour Street\x1b[0m")  # 16 colours: bold white
    assert richer.startswith("\x1b[1;38;5;231mHarbour Street\x1b[0m")  # 256 colours
    assert len(renders) == 3


async def test_the_cache_is_emptied_when_full(
    renders: list[Terminal], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telnet_transport, "TEXT_CACHE", 2)
    transport, socket, _ = _client()
    for n in range(5):
        await _shown(transport, socket, _room(f"Room {n}. " + DESCRIPTION))
    assert len(telnet_transport._texts) <= 2
    assert "Room 4." in await _shown(transport, socket, _room("Room 4. " + DESCRIPTION))


async def test_a_long_reply_is_kept_apart_from_the_same_text_as_an_error(
    renders: list[Terminal],
) -> None:
    transport, socket, protocol = _client()
    protocol.report(ttype1=f"MTTS {int(Mtts.ANSI)}")
    text = "Commands:\nlook, say, north"
    ok = {"type": "reply", "re": "x", "ok": True, "text": text}
    first = await _shown(transport, socket, Outgoing(ok))
    again = await _shown(transport, socket, Outgoing(dict(ok)))
    failed = await _shown(transport, socket, Outgoing({**ok, "ok": False}))
    assert first == again == "Commands:\r\nlook, say, north\r\n"
    assert failed == "\x1b[31mCommands:\x1b[0m\r\n\x1b[31mlook, say, north\x1b[0m\r\n"
    assert len(renders) == 2
    one_line = {"type": "reply", "re": "x", "ok": True, "text": "You say, hi."}
    await _shown(transport, socket, Outgoing(one_line))
    await _shown(transport, socket, Outgoing(dict(one_line)))
    assert len(renders) == 4  # one-line replies are not kept: they rarely come back
