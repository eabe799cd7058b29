"""One telnet client's stream: typed lines in, text, prompts and GMCP out.

Writes wait for the client to read (drain) at most ``write_timeout`` seconds; a client that
never reads is then cut off, so its output never piles up in memory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from telnetlib3.stream_reader import TelnetReaderUnicode
from telnetlib3.stream_writer import TelnetWriterUnicode
from telnetlib3.telopt import CMD_EOR, ECHO, EOR, GA, GMCP, IAC, SGA, WILL, WONT

from kadath.realtime.transport import TransportClosed
from kadath.telnet.gmcp import GmcpClient
from kadath.telnet.lines import Line, LineBuffer
from kadath.telnet.protocol import KadathReader, KadathWriter
from kadath.telnet.terminal import Terminal, terminal_of

log = structlog.get_logger(__name__)
# More than the reader ever buffers (it pauses the socket past twice its limit), so each read
# takes the whole buffer at once: telnetlib3 decodes a partial read one byte at a time.
READ_CHUNK = 1 << 20
QUICK_DRAIN = 16 * 1024  # bytes in the socket's buffer below which a drain never waits


def escaped(data: bytes) -> bytes:
    """``data`` with each IAC byte doubled, as telnet requires of text."""
    return data.replace(IAC, IAC + IAC)


class TerminalIO:
    def __init__(
        self,
        reader: TelnetReaderUnicode,
        writer: TelnetWriterUnicode,
        *,
        max_line: int,
        write_timeout: float,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._lines = LineBuffer(max_line)
        self._ready: list[Line] = []
        if isinstance(reader, KadathReader):
            reader.line_room = max_line  # the line buffer starts empty
        self._write_timeout = write_timeout
        self._terminal: Terminal | None = None
        self._encoding = "utf8"
        self._terminal_read = -1  # the protocol's terminal_changes when last read
        self._protocol = writer.protocol
        self.gmcp: GmcpClient = getattr(self._protocol, "gmcp", None) or GmcpClient()
        peer = writer.get_extra_info("peername") or ("unknown", 0)
        self.ip = str(peer[0])
        self.remote = f"{peer[0]}:{peer[1]}"

    @property
    def terminal(self) -> Terminal:
        """As negotiated; read again only after the client reported something new (a
        window size, a terminal type, an environment, a charset: ``terminal_changes``),
        since reading it per frame cost more than the frame."""
        changes = getattr(self._protocol, "terminal_changes", 0)
        if self._terminal is None or changes != self._terminal_read:
            self._terminal = terminal_of(self._writer.get_extra_info)
            self._encoding = str(self._writer.fn_encoding(outgoing=True))
            self._terminal_read = changes
        return self._terminal

    def profile(self) -> tuple[Terminal, str]:
        """``terminal`` and ``encoding`` in one call (a burst asks for both)."""
        terminal = self._terminal
        changes = getattr(self._protocol, "terminal_changes", 0)
        if terminal is None or changes != self._terminal_read:
            terminal = self.terminal
        return terminal, self._encoding

    @property
    def encoding(self) -> str:
        """The output encoding (UTF-8 unless the client's LANG says otherwise), read again
        with ``terminal``."""
        _ = self.terminal
        return self._encoding

    @property
    def encoding_errors(self) -> str:
        return str(self._writer.encoding_errors)

    @property
    def closed(self) -> bool:
        return self._writer.is_closing()

    # -- input -------------------------------------------------------------------------------
    async def read_line(self) -> Line:
        """The next typed line. Raises TransportClosed."""
        reader = self._reader
        ready = self._ready
        while not ready:
            try:
                if isinstance(reader, KadathReader):
                    typed = reader.typed
                    if typed and not reader._buffer:  # handed over whole: nothing to await
                        ready.extend([Line(text) for text in typed])
                        typed.clear()
                        continue
                    chunk = await reader.read_text()
                    typed = reader.typed
                    if typed:  # whole lines handed over, older than ``chunk``
                        ready.extend([Line(text) for text in typed])
                        typed.clear()
                        if chunk:
                            self._feed(reader, chunk)
                        continue
                else:
                    chunk = await reader.read(READ_CHUNK)
            except (ConnectionError, OSError):
                raise TransportClosed from None
            if not chunk:
                raise TransportClosed
            self._feed(reader, chunk)
        return ready.pop(0)

    def _feed(self, reader: TelnetReaderUnicode, chunk: str) -> None:
        lines = self._lines
        self._ready.extend(lines.feed(chunk))
        if isinstance(reader, KadathReader):  # whole lines may be handed over only at a start
            reader.line_room = lines.limit if lines.at_line_start() else 0

    # -- output ------------------------------------------------------------------------------
    async def write_lines(self, lines: Iterable[str]) -> None:
        """Lines of text, each ended by CR LF. Raises TransportClosed."""
        text = "".join(f"{line}\r\n" for line in lines)
        if text:
            self._write(text)
            await self.drain()

    def put_lines(self, lines: Iterable[str]) -> None:
        """Lines of text, each ended by CR LF, without waiting for the client to read them
        (call ``drain`` after a burst). Raises TransportClosed."""
        text = "".join(f"{line}\r\n" for line in lines)
        if text:
            self._write(text)

    async def write_prompt(self, text: str) -> None:
        """A prompt left open for typing; see ``show_prompt``. Raises TransportClosed."""
        self.show_prompt(text)
        await self.drain()

    def show_prompt(self, text: str) -> None:
        """A prompt left open for typing, marked with IAC EOR (GA where EOR was refused),
        without waiting for the client to read it. Raises TransportClosed."""
        self._write(text + " ")
        if not self._writer.send_eor():
            self._writer.send_ga()

    def put_encoded(self, data: bytes) -> None:
        """Text already encoded in ``encoding`` with its IAC bytes doubled (``escaped``),
        without waiting for the client to read it."""
        self._writer.send_iac(data)

    def show_encoded_prompt(self, data: bytes) -> None:
        """A prompt already encoded and escaped (``escaped``), left open for typing and
        marked as ``show_prompt`` marks it."""
        options = self._writer.local_option
        if options.get(EOR) is True:  # telnetlib3's ``enabled``
            self._writer.send_iac(data + IAC + CMD_EOR)
        elif options.get(SGA) is not True:
            self._writer.send_iac(data + IAC + GA)  # as telnetlib3's send_ga: not once SGA is on
        else:
            self._writer.send_iac(data)

    def send_gmcp(self, package: str, data: Any) -> None:
        """One GMCP message, when GMCP is agreed and the client takes the package."""
        if self.takes_gmcp(package):
            self._writer.send_gmcp(package, data)

    def takes_gmcp(self, package: str) -> bool:
        """Whether GMCP is agreed and the client takes ``package``."""
        return self._gmcp_on() and self.gmcp.accepts(package)

    def _gmcp_on(self) -> bool:
        return self._writer.local_option.get(GMCP) is True  # telnetlib3's ``enabled``

    @property
    def gmcp_on(self) -> bool:
        """Whether GMCP is agreed."""
        return self._gmcp_on()

    @property
    def eor_on(self) -> bool:
        return bool(self._writer.local_option.enabled(EOR))

    def burst(self, before_release: Callable[[], None]) -> Callable[[bytes], None]:
        """``hold``, returning the function that adds bytes already encoded and escaped
        (``escaped``) to the held burst, as ``put_encoded`` does, until the caller next
        awaits (the burst leaves on the next turn of the loop)."""
        writer = self._writer
        if isinstance(writer, KadathWriter):
            return writer.hold(before_release)
        asyncio.get_running_loop().call_soon(before_release)
        return writer.send_iac

    def hold(self, before_release: Callable[[], None] | None = None) -> None:
        """Gather the output of this turn of the event loop into one socket write;
        ``before_release`` runs just before it is written (and joins it)."""
        if isinstance(self._writer, KadathWriter):
            self._writer.hold(before_release)
        elif before_release is not None:
            asyncio.get_running_loop().call_soon(before_release)

    def hide_input(self) -> None:
        """Ask the client not to echo (for a password): IAC WILL ECHO."""
        self._writer.iac(WILL, ECHO)

    def show_input(self) -> None:
        """Let the client echo again: IAC WONT ECHO."""
        self._writer.iac(WONT, ECHO)

    def _write(self, text: str) -> None:
        if self._writer.is_closing():
            raise TransportClosed
        self._writer.write(text)

    def writes_at_once(self) -> bool:
        """Whether output now would be taken without waiting: the connection is open and its
        socket's buffer far below the high-water mark (``drain`` would return at once)."""
        transport = self._writer._transport
        return (
            transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() < QUICK_DRAIN
        )

    async def drain(self) -> None:
        """Wait for the client to take our output. Raises TransportClosed (and cuts off a
        client that has not read for ``write_timeout`` seconds)."""
        if self.writes_at_once():
            return  # far below the high-water mark: draining would not wait
        try:
            async with asyncio.timeout(self._write_timeout):  # no task: a burst is not split
                await self._writer.drain()
        except TimeoutError:
            log.warning("telnet_client_not_reading", remote=self.remote)
            self.abort()
            raise TransportClosed from None
        except (ConnectionError, OSError):
            raise TransportClosed from None

    def abort(self) -> None:
        """Drop the connection at once, discarding unsent output."""
        transport = self._writer.transport
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.abort()  # type: ignore[attr-defined]
        self._writer.close()

    async def close(self, goodbye: str = "") -> None:
        """Say ``goodbye`` (as text and Core.Goodbye), then close."""
        with contextlib.suppress(TransportClosed):
            if goodbye:
                self.send_gmcp("Core.Goodbye", goodbye)
                await self.write_lines([goodbye])
        self._writer.close()
