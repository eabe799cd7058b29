"""A frame sent to a room is rendered once per terminal profile and its GMCP encoded once,
whatever the number of telnet listeners; each still gets it in its own batch, in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from kadath.realtime.outgoing import Outgoing
from kadath.realtime.transport import DirectTransport
from kadath.telnet import gmcp, render
from kadath.telnet import transport as telnet_transport
from kadath.telnet.gmcp import GmcpClient
from kadath.telnet.terminal import Mtts, Terminal
from kadath.telnet.transport import GameView, TelnetTransport
from kadath.world import load_world


class FakeTerminalIO:
    """What TelnetTransport uses of TerminalIO, recording the bytes and text it would write."""

    encoding = "utf8"
    encoding_errors = "replace"

    def __init__(self, terminal: Terminal, packages: set[str]) -> None:
        self.terminal = terminal
        self.gmcp = GmcpClient()
        self.gmcp.packages.update(packages)
        self.gmcp_on = True
        self.closed = False
        self.remote = "127.0.0.1:1"
        self.out: list[Any] = []
        self.drains = 0
        self.at_once = True  # what writes_at_once answers (the socket's buffer nearly empty)

    def writes_at_once(self) -> bool:
        return self.at_once and not self.closed

    def hold(self, before_release: Callable[[], None] | None = None) -> None:
        if before_release is not None:  # the prompt, written when the real one releases
            asyncio.get_running_loop().call_soon(before_release)

    def burst(self, before_release: Callable[[], None]) -> Callable[[bytes], None]:
        self.hold(before_release)
        return self.put_encoded

    def profile(self) -> tuple[Terminal, str]:
        return self.terminal, self.encoding

    def takes_gmcp(self, package: str) -> bool:
        return self.gmcp.accepts(package)

    def send_gmcp(self, package: str, data: Any) -> None:
        if self.takes_gmcp(package):
            self.out.append(("gmcp", package, data))

    def put_encoded(self, data: bytes) -> None:
        if data.startswith(b"\xff\xfa"):  # IAC SB: a GMCP message
            self.out.append(("gmcp-bytes", data))
        else:
            self.out.extend(("line", line) for line in data.decode().split("\r\n")[:-1])

    async def drain(self) -> None:
        self.drains += 1

    def show_encoded_prompt(self, data: bytes) -> None:
        self.out.append(("prompt", data.decode()))


def _view() -> GameView:
    world = load_world()

    async def no_items(player_id: Any) -> list[Any]:
        return []

    return GameView(
        world=world,
        channel_of=lambda line: None,
        changes_items=lambda line: False,
        items_of=no_items,
    )


async def test_a_room_fan_out_is_rendered_once_per_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[Terminal] = []
    real_render = render.render

    def counting(frame: Any, terminal: Terminal) -> list[str]:
        rendered.append(terminal)
        return real_render(frame, terminal)

    monkeypatch.setattr(telnet_transport.render, "render", counting)
    encoded: list[Any] = []
    real_encoded = gmcp.encoded
    monkeypatch.setattr(
        telnet_transport.gmcp, "encoded", lambda m: encoded.append(m) or real_encoded(m)
    )
    view = _view()
    plain, colour = Terminal(80), Terminal(80, Mtts.ANSI | Mtts.COLOURS_256)
    ios = [FakeTerminalIO(plain if n % 2 else colour, {"comm.channel"}) for n in range(20)]
    transports = [TelnetTransport(io, view, "token", f"P{n}") for n, io in enumerate(ios)]  # type: ignore[arg-type]
    said = Outgoing({"type": "message", "channel": "say", "from": "Ann", "text": "Hello all."})
    arrived = Outgoing({"type": "event", "event": "arrived", "name": "Bob", "text": "Bob is here."})
    for n, transport in enumerate(transports):
        await transport.send_frames([(n + 1, said), (n + 2, arrived)])

    assert len(rendered) == 4  # two frames, two profiles
    assert len(encoded) == 1  # the say's GMCP once; nobody takes Room: no Room.AddPlayer built
    for io in ios:
        lines = [entry[1] for entry in io.out if entry[0] == "line"]
        assert len(lines) == 2 and "Hello all." in lines[0] and "Bob is here." in lines[1]
        gmcp_out = [entry[1] for entry in io.out if entry[0] == "gmcp-bytes"]
        # the client takes Comm.Channel, not Room: the arrival's Room.AddPlayer is not sent
        assert len(gmcp_out) == 1 and b"Comm.Channel.Text" in gmcp_out[0]
        payload = gmcp_out[0].split(b" ", 1)[1][:-2]
        assert json.loads(payload)["text"] == "Hello all."
        assert io.drains == 1  # one batch, one drain


async def test_gmcp_is_not_built_for_a_frame_whose_packages_no_client_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Any] = []
    real_messages = gmcp.messages
    monkeypatch.setattr(
        telnet_transport.gmcp, "messages", lambda f, w: built.append(f) or real_messages(f, w)
    )
    view = _view()
    ios = [FakeTerminalIO(Terminal(80), {"char"}) for _ in range(5)]
    transports = [TelnetTransport(io, view, "token", f"P{n}") for n, io in enumerate(ios)]  # type: ignore[arg-type]
    arrived = Outgoing({"type": "event", "event": "arrived", "name": "Bob", "text": "Bob is here."})
    for transport in transports:
        await transport.send_frames([(1, arrived)])
    assert built == []  # Room.AddPlayer: none of them takes Room
    assert all(("line", "Bob is here.") in io.out for io in ios)
    assert not any(e[0].startswith("gmcp") for io in ios for e in io.out)


async def test_a_batch_is_shown_at_once_only_while_the_socket_takes_it() -> None:
    """A telnet connection is a ``DirectTransport``: the session shows a batch from a loop
    callback, not its writer task, while the socket's buffer is nearly empty; otherwise (a
    client not reading, or gone) nothing is shown and the writer sends it, and waits."""
    io = FakeTerminalIO(Terminal(80), set())
    transport = TelnetTransport(io, _view(), "token", "P1")  # type: ignore[arg-type]
    assert isinstance(transport, DirectTransport)
    said = Outgoing({"type": "message", "channel": "say", "from": "Ann", "text": "Hello."})
    assert transport.send_frames_now([(1, said)])
    assert any("Hello." in e[1] for e in io.out if e[0] == "line")
    shown = len(io.out)
    io.at_once = False
    assert not transport.send_frames_now([(2, said)])
    io.at_once, io.closed = True, True
    assert not transport.send_frames_now([(3, said)])
    assert len(io.out) == shown and io.drains == 0
