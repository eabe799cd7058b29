"""What a typed line is (its chat channel, whether it may change the inventory) is worked out
once per first word per connection, and is what the finders say of the whole line."""

from __future__ import annotations

import asyncio
from typing import Any

from telnetlib3 import TelnetReaderUnicode

from kadath.commands.table import build_command_table
from kadath.realtime.protocol import CommandFrame
from kadath.telnet import transport as telnet_transport
from kadath.telnet.chat import channel_finder
from kadath.telnet.inventory import item_command_finder
from kadath.telnet.protocol import KadathWriter
from kadath.telnet.terminal_io import TerminalIO
from kadath.telnet.transport import GameView, TelnetTransport
from kadath.world import load_world

TABLE = build_command_table()
CHANNEL_OF, CHANGES_ITEMS = channel_finder(TABLE), item_command_finder(TABLE)
LINES = [
    "say hello",
    "say goodbye",
    "'hi there",
    "'hi there",
    ":waves",
    "me waves",
    "tell Ann hi",
    "get lamp",
    "GET lamp",
    "get",
    "drop lamp",
    "examine lamp",
    "look",
    "look north",
    "inventory",
    "north",
    "sa hi",
]


class Socket(asyncio.Transport):
    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class Protocol:
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 4000)}.get(name, default)


async def _no_items(player_id: Any) -> list[Any]:
    return []


async def test_each_line_is_classed_as_the_finders_class_it_and_once_per_first_word() -> None:
    asked: list[str] = []

    def channel_of(text: str) -> str | None:
        asked.append(text)
        return CHANNEL_OF(text)

    reader = TelnetReaderUnicode(fn_encoding=lambda **_: "utf8")
    writer = KadathWriter(Socket(), Protocol(), lambda **_: "utf8", server=True)
    io = TerminalIO(reader, writer, max_line=1000, write_timeout=5.0)
    view = GameView(load_world(), channel_of, CHANGES_ITEMS, _no_items)
    transport = TelnetTransport(io, view, "token", "Nadia")
    await transport.receive_frame()  # the hello
    reader.feed_data("".join(f"{line}\r\n" for line in LINES).encode())
    for line in LINES:
        frame = await transport.receive_frame()
        assert isinstance(frame, CommandFrame) and frame.text == line
        speaking = transport._speaking.get(frame.id)
        assert speaking == CHANNEL_OF(line), line
        assert (frame.id in transport._handling) == (speaking is None and CHANGES_ITEMS(line))
    first_words = {line.split()[0] for line in LINES}
    assert len(asked) == len(first_words)  # "say", "'hi", "get" ... asked once each


def test_the_kinds_kept_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(telnet_transport, "KINDS_KEPT", 3)
    reader = TelnetReaderUnicode(fn_encoding=lambda **_: "utf8")
    writer = KadathWriter(Socket(), Protocol(), lambda **_: "utf8", server=True)
    io = TerminalIO(reader, writer, max_line=1000, write_timeout=5.0)
    view = GameView(load_world(), CHANNEL_OF, CHANGES_ITEMS, _no_items)
    transport = TelnetTransport(io, view, "token", "Nadia")
    for n in range(10):
        assert transport._kind_of(f"word{n} x") == (None, False)
        assert len(transport._kinds) <= 3
    assert transport._kind_of("say hi") == ("say", False)
