"""A raw-socket telnet client for tests: it records every negotiation byte and GMCP/MSSP frame
the server sends, answers like a chosen MUD client (or not at all), and reads the text."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import zlib
from dataclasses import dataclass, field
from typing import Any

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
GA, EOR_CMD, NOP = 249, 239, 241
ECHO, SGA, TTYPE, NAWS, EOR, CHARSET = 1, 3, 24, 31, 25, 42
MSSP, MCCP2, MCCP3, GMCP, BINARY, NEW_ENVIRON = 70, 86, 87, 201, 0, 39
WAIT = 5.0


@dataclass
class Persona:
    """How a client answers: which options it accepts, its terminal types and window width."""

    accepts: set[int] = field(default_factory=set)
    ttypes: tuple[str, ...] = ()
    width: int = 80
    gmcp_supports: tuple[str, ...] = ()


MUDLET = Persona(
    accepts={SGA, EOR, GMCP, NAWS, TTYPE, CHARSET, BINARY},
    ttypes=("MUDLET", "ANSI-TRUECOLOR", "MTTS 2349"),  # ANSI, UTF-8, 256, truecolour, …
    width=100,
    gmcp_supports=("Char 1", "Room 1", "Comm.Channel 1", "Core 1"),
)
SCREEN_READER = Persona(
    accepts={SGA, EOR, NAWS, TTYPE},
    ttypes=("TINTIN++", "ANSI", "MTTS 69"),  # ANSI, UTF-8, screen reader
)
SILENT = Persona()


class TelnetClient:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, persona: Persona
    ) -> None:
        self.reader, self.writer, self.persona = reader, writer, persona
        self.raw = bytearray()  # every byte received, decompressed
        self.commands: list[tuple[int, int]] = []  # (WILL/WONT/DO/DONT, option)
        self.subnegotiations: list[tuple[int, bytes]] = []
        self.marks: list[int] = []  # GA and EOR, in order
        self.text = ""
        self._taken = 0
        self._pending = bytearray()
        self._inflate: Any = None
        self._ttype_index = 0

    @classmethod
    async def open(cls, port: int, persona: Persona = SILENT, rcvbuf: int = 0) -> TelnetClient:
        if rcvbuf:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            # a small stream limit too, so the client's own buffer stops reading early
            reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, persona)

    # -- sending -----------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def line(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")

    def gmcp(self, package: str, data: Any = None) -> None:
        body = package if data is None else f"{package} {json.dumps(data)}"
        self.send(bytes([IAC, SB, GMCP]) + body.encode() + bytes([IAC, SE]))

    # -- receiving ---------------------------------------------------------------------------
    async def pump(self, within: float = WAIT) -> bool:
        """Read one chunk (False at end of stream)."""
        chunk = await asyncio.wait_for(self.reader.read(65536), within)
        if not chunk:
            return False
        self._feed(chunk)
        return True

    async def until(self, needle: str, within: float = WAIT) -> str:
        """The text up to and including ``needle`` (consumed)."""
        async with asyncio.timeout(within):
            while needle not in self.text[self._taken :]:
                if not await self.pump(within):
                    raise EOFError(f"closed before {needle!r}; text: {self.text[-500:]!r}")
        end = self.text.index(needle, self._taken) + len(needle)
        seen, self._taken = self.text[self._taken : end], end
        return seen

    async def wait_gmcp(self, package: str, within: float = WAIT) -> Any:
        async with asyncio.timeout(within):
            while True:
                for found, data in self.gmcp_frames():
                    if found == package:
                        return data
                if not await self.pump(within):
                    raise EOFError(f"closed before GMCP {package}")

    async def wait_closed(self, within: float = WAIT) -> None:
        async with asyncio.timeout(within):
            try:
                while await self.pump(within):
                    pass
            except ConnectionResetError:
                pass

    def gmcp_frames(self) -> list[tuple[str, Any]]:
        frames = []
        for option, payload in self.subnegotiations:
            if option == GMCP:
                package, _, body = payload.decode().partition(" ")
                frames.append((package, json.loads(body) if body else None))
        return frames

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    # -- the telnet state machine ------------------------------------------------------------
    def _feed(self, chunk: bytes) -> None:
        if self._inflate is not None:
            chunk = self._inflate.decompress(chunk)
        self.raw += chunk
        self._pending += chunk
        text = bytearray()
        i, data = 0, self._pending
        while i < len(data):
            byte = data[i]
            if byte != IAC:
                text.append(byte)
                i += 1
                continue
            if i + 1 >= len(data):
                break
            cmd = data[i + 1]
            if cmd == IAC:
                text.append(IAC)
                i += 2
            elif cmd in (WILL, WONT, DO, DONT):
                if i + 2 >= len(data):
                    break
                self.commands.append((cmd, data[i + 2]))
                self._answer(cmd, data[i + 2])
                i += 3
            elif cmd == SB:
                end = data.find(bytes([IAC, SE]), i)
                if end == -1:
                    break
                option, payload = (
                    data[i + 2],
                    bytes(data[i + 3 : end]).replace(b"\xff\xff", b"\xff"),
                )
                self.subnegotiations.append((option, payload))
                i = end + 2
                self._answer_sb(option, payload)
                if option == MCCP2:
                    rest = bytes(data[i:])
                    self._inflate = zlib.decompressobj()
                    self._pending = bytearray()
                    self.text += text.decode("utf-8", "replace")
                    if rest:
                        self._feed(rest)
                    return
            else:
                if cmd in (GA, EOR_CMD):
                    self.marks.append(cmd)
                    text += b"<EOR>" if cmd == EOR_CMD else b"<GA>"
                i += 2
        self._pending = bytearray(data[i:])
        self.text += text.decode("utf-8", "replace")

    def _answer(self, cmd: int, option: int) -> None:
        yes = option in self.persona.accepts
        if cmd == WILL and option not in (ECHO,):
            self.send(bytes([IAC, DO if yes else DONT, option]))
        elif cmd == DO:
            self.send(bytes([IAC, WILL if yes else WONT, option]))
            if yes and option == NAWS:
                w = self.persona.width
                self.send(bytes([IAC, SB, NAWS, w >> 8, w & 255, 0, 40, IAC, SE]))
        if yes and cmd == WILL and option == GMCP:
            self.gmcp("Core.Hello", {"client": "test", "version": "1"})
            self.gmcp("Core.Supports.Set", list(self.persona.gmcp_supports))

    def _answer_sb(self, option: int, payload: bytes) -> None:
        if option == TTYPE and payload[:1] == b"\x01" and self.persona.ttypes:
            names = self.persona.ttypes
            name = names[min(self._ttype_index, len(names) - 1)]
            self._ttype_index += 1
            self.send(bytes([IAC, SB, TTYPE, 0]) + name.encode() + bytes([IAC, SE]))
        elif option == CHARSET and payload[:1] == b"\x01":
            self.send(bytes([IAC, SB, CHARSET, 2]) + b"UTF-8" + bytes([IAC, SE]))


async def sign_up(client: TelnetClient, account: str, password: str, character: str) -> None:
    """A new account and character over telnet, ending in the world."""
    await client.until("Account name")
    client.line("new")
    await client.until("Choose an account name:")
    client.line(account)
    await client.until("Choose a password:")
    client.line(password)
    await client.until("Type the password again:")
    client.line(password)
    await client.until("let us make one.")
    await create_character(client, character)


async def create_character(client: TelnetClient, character: str) -> None:
    await client.until("Your character's name:")
    client.line(character)
    await client.until("Type a profession's number or name:")
    client.line("1")
    await client.until("point buy?")
    client.line("point buy")
    await client.until("Scores:")
    client.line("15 14 13 12 10 8")
    await client.until(f"Welcome to Kadath, {character}.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def telnet_port(server: Any) -> int:
    """The telnet port a running test server listens on."""
    return int(server.app.state.runtime.telnet_port)
