"""The telnet protocol for one connection: the options offered on connect, GMCP received,
and the per-address connection limit applied before anything else happens."""

from __future__ import annotations

import asyncio
import codecs
import datetime
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from telnetlib3.accessories import TRACE
from telnetlib3.server import TelnetServer
from telnetlib3.stream_reader import TelnetReaderUnicode
from telnetlib3.stream_writer import TelnetWriterUnicode
from telnetlib3.telopt import (
    DO,
    ECHO,
    EOR,
    GMCP,
    LINEMODE,
    MCCP2_COMPRESS,
    MSSP,
    NAWS,
    SGA,
    WILL,
)

from kadath.telnet.gmcp import GmcpClient

log = structlog.get_logger(__name__)
IDLE_SLACK = 0.05  # seconds: an idle timer this close to its end is not moved again
REFUSED = b"Too many connections from your address; try again later.\r\n"
# the bytes a typed line handed over whole may hold: tab and printable ASCII
# (so no IAC, no control character for the line reader to drop or apply, no CR or LF)
_PLAIN_BYTES = bytes([9, *range(0x20, 0x7F)])
# incoming encodings in which ASCII bytes decode to themselves and end any pending sequence
_ASCII_SAFE = frozenset({"utf-8", "ascii"})
_ascii_safe: dict[str, bool] = {}  # encoding name as given -> whether it is one of those


def ascii_safe(encoding: object) -> bool:
    """Whether ``encoding`` decodes ASCII bytes to the same characters, with no state."""
    name = str(encoding)
    known = _ascii_safe.get(name)
    if known is None:
        try:
            known = codecs.lookup(name).name in _ASCII_SAFE
        except LookupError:
            known = False
        if len(_ascii_safe) < 64:
            _ascii_safe[name] = known
    return known


class AddressGate:
    """At most ``limit`` connections open at once from one address."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    def enter(self, address: str) -> bool:
        if self._open[address] >= self._limit:
            return False
        self._open[address] += 1
        return True

    def leave(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def __len__(self) -> int:
        return sum(self._open.values())


MsspVariables = Callable[[], dict[str, str | list[str]]]


class KadathWriter(TelnetWriterUnicode):
    """telnetlib3's writer, answering a crawler's ``DO MSSP`` whenever it comes, and able to
    hold its output for a moment so that a burst (text, GMCP, prompt, EOR) leaves as one
    socket write instead of one per piece."""

    mssp: MsspVariables | None = None
    _slc_wanted = True
    _held: list[bytes] | None = None
    _burst_encoding: str | None = None

    _before_release: Callable[[], None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def hold(self, before_release: Callable[[], None] | None = None) -> Callable[[bytes], None]:
        """Keep what is written until ``release``, which runs by itself on the next turn of
        the event loop (so held output never waits longer than the burst that wrote it).
        ``before_release`` (a prompt that ends the burst) runs at the release, before what
        was held is written, so it joins that write without a loop callback of its own.
        Returns the function that adds bytes already escaped to the held burst (valid until
        the caller next awaits: the burst is released on the next turn of the loop)."""
        if before_release is not None:
            self._before_release = before_release
        held = self._held
        if held is None:
            held = self._held = []
            loop = self._loop
            if loop is None:  # looked up once: each lookup is a getpid() system call
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self.release)
        return held.append

    def encode(self, string: str, errors: str | None = None) -> bytes:
        """As telnetlib3 does, but the encoding is looked up once per held burst."""
        if self._held is None:
            return super().encode(string, errors)
        if self._burst_encoding is None:
            self._burst_encoding = self.fn_encoding(outgoing=True)
        return bytes(string, self._burst_encoding, errors or self.encoding_errors)

    def release(self) -> None:
        """Write what was held, as one piece (after ``hold``'s ``before_release``): straight
        to the transport, as telnetlib3's ``send_iac`` would (with MCCP2 on, the transport's
        ``write`` is telnetlib3's compressing one), without its per-call checks."""
        before, self._before_release = self._before_release, None
        if before is not None and self._held is not None:
            before()
        held, self._held = self._held, None
        self._burst_encoding = None
        if not held:
            return
        data = held[0] if len(held) == 1 else b"".join(held)
        transport = self._transport
        if transport is None or self._connection_closed or transport.is_closing():
            return
        if self.log.isEnabledFor(TRACE):
            super().send_iac(data)  # telnetlib3 logs the bytes
            return
        transport.write(data)
        protocol = self._protocol
        if hasattr(protocol, "_tx_bytes"):
            protocol._tx_bytes += len(data)

    # held output is not checked for a closing connection: ``release`` drops it then
    def _write(self, buf: bytes, escape_iac: bool = True) -> None:
        if self._held is None:
            super()._write(buf, escape_iac)
        else:
            self._held.append(self._escape_iac(buf) if escape_iac else bytes(buf))

    def send_iac(self, buf: bytes) -> None:
        if self._held is None:
            super().send_iac(buf)
        else:
            self._held.append(buf if type(buf) is bytes else bytes(buf))  # no copy of bytes

    def is_closing(self) -> bool:
        """telnetlib3's, without its property lookups (asked for every burst and write)."""
        transport = self._transport
        return (transport is not None and transport.is_closing()) or self._connection_closed

    @property
    def slc_simulated(self) -> bool:
        """Whether input is searched for special line characters (^C, ^Z, ...): only in the
        modes where telnetlib3 acts on them (kludge, remote), so in local mode, where MUD
        clients stay, input is not scanned byte by byte for nothing."""
        return self._slc_wanted and (  # a cheaper superset of `self.mode != "local"`
            self.local_option.enabled(ECHO) or self.remote_option.enabled(LINEMODE)
        )

    @slc_simulated.setter
    def slc_simulated(self, value: bool) -> None:
        self._slc_wanted = value

    def close(self) -> None:
        self._before_release = None  # no prompt for a connection closing
        self.release()
        super().close()

    def handle_do(self, opt: bytes) -> bool:
        agreed = bool(super().handle_do(opt))
        if agreed and opt == MSSP and self.mssp is not None:
            # after this returns, the option is recorded as agreed and MSSP may be sent
            asyncio.get_running_loop().call_soon(self._send_mssp)
        return agreed

    def _send_mssp(self) -> None:
        if self.mssp is not None and not self.is_closing():
            self.send_mssp(self.mssp())


class KadathReader(TelnetReaderUnicode):
    """telnetlib3's reader, with ``read_text``: what its ``read`` returns when asked for more
    than it holds, in one coroutine (``read`` awaits ``_wait_for_data``, which looks the
    loop up for every wait: a ``getpid()`` system call), for each typed line."""

    _event_loop: asyncio.AbstractEventLoop | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Whole typed lines the protocol handed over without the buffer (see
        # ``KadathTelnetProtocol.data_received``), in order, older than anything buffered.
        self.typed: list[str] = []
        # Set by the line reader (``TerminalIO``): the longest line it takes whole now, or 0
        # when it holds part of a line (or reads no lines): no line is handed over then.
        self.line_room = 0

    async def read_text(self) -> str:
        """Everything received and not yet read, decoded (waiting for some if there is
        none, and no typed line was handed over); "" at the end of the stream, or when
        only typed lines (``typed``) came."""
        if self._exception is not None:
            raise self._exception
        if not self._buffer and not self._eof and not self.typed:
            if self._waiter is not None:
                raise RuntimeError("read_text() called while another read is waiting")
            if self._paused:  # as telnetlib3: waiting while paused would never end
                self._paused = False
                self._transport.resume_reading()  # type: ignore[union-attr]
            loop = self._event_loop
            if loop is None:
                loop = self._event_loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
            if not self._buffer:  # woken for typed lines (or the end): nothing to decode
                if self._paused:
                    self._maybe_resume_transport()
                return ""
        text = self.decode(bytes(self._buffer))
        self._buffer.clear()
        self._maybe_resume_transport()
        return text


class KadathTelnetProtocol(TelnetServer):
    """telnetlib3's server protocol with Kadath's offers: everything a MUD client may want is
    offered at once, and the shell starts when the client has answered or after
    ``connect_maxwait`` seconds, so a client that never answers is not waited on."""

    gate: AddressGate = AddressGate(10)
    mssp: MsspVariables | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            writer_factory_encoding=KadathWriter, reader_factory_encoding=KadathReader, **kwargs
        )
        self.gmcp = GmcpClient()
        self._address: str | None = None
        self._active_at = 0.0
        # counts the client's reports of what its terminal is (window size, terminal type,
        # environment, charset), so the width, colours and encoding are read again only then
        self.terminal_changes = 0
        self._encodings: dict[tuple[bool, bool, int], str | bool] = {}
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._ascii_known: tuple[int, bool] | None = None  # (terminal_changes, _ascii_in)

    def encoding(self, outgoing: bool | None = None, incoming: bool | None = None) -> str | bool:
        """telnetlib3's choice of encoding, worked out again only after the client reported
        something new (it is asked for every typed line and every burst). With
        ``force_binary``, as Kadath serves, it depends on nothing else."""
        if not self.force_binary:
            return super().encoding(outgoing, incoming)
        key = (bool(outgoing), bool(incoming), self.terminal_changes)
        known = self._encodings.get(key)
        if known is None:
            if len(self._encodings) > 8:
                self._encodings.clear()
            known = self._encodings[key] = super().encoding(outgoing, incoming)
        return known

    def data_received(self, data: bytes) -> None:
        """telnetlib3's, but typed text after the first input (no IAC byte, no compression
        from the client, no special line characters looked for, no subnegotiation under way)
        goes straight to the reader: what telnetlib3 would do with it, without scanning it.

        And a chunk that is exactly one typed line (printable ASCII and tabs, ended by CR LF:
        what a MUD client sends for each command) is handed to the line reader whole, as the
        stripped line, when that gives what the reader would have made of it: nothing else
        unread, no part of a line or character held, an encoding in which ASCII is ASCII,
        the line within the reader's limit. Tested equal to the slow path."""
        writer = self.writer
        reader = self.reader
        if (
            self._tls_checked  # the first input goes through telnetlib3 (it refuses TLS)
            and self._mccp3_decompressor is None
            and writer is not None
            and reader is not None
            and not (writer.iac_received or writer.cmd_received)  # telnetlib3's ``is_oob``
            and data.find(255) < 0
            and not writer.slc_simulated
        ):
            # the idle timer and ``_last_received`` as ``set_timeout`` and telnetlib3 keep
            # them, the common case inline (the time read once, from the loop's clock)
            timer, loop = self._timer, self._event_loop
            if loop is not None and timer is not None and not timer.cancelled():
                self._active_at = self._received_at = loop.time()
            else:
                self.set_timeout()
                self._received_at = self._active_at
            self._rx_bytes += len(data)
            self._trace_recv(data)
            if type(reader) is KadathReader or isinstance(reader, KadathReader):
                end = len(data) - 2
                room = reader.line_room  # 0: the line reader holds part of a line
                if (
                    0 < room >= end >= 0
                    and data.translate(None, _PLAIN_BYTES) == b"\r\n"  # nothing else ...
                    and data[end:] == b"\r\n"  # ... and at the end
                    and not reader._buffer
                    and not reader._eof
                    and not getattr(reader._decoder, "buffer", b"")  # no partial character
                    and self._ascii_in()
                    and self._one_line(reader, data)
                ):
                    reader.typed.append(data[:end].decode("ascii").strip())
                    reader._wakeup_waiter()
                    return
            reader.feed_data(data)
            return
        super().data_received(data)

    def _one_line(self, reader: KadathReader, data: bytes) -> bool:
        """The last word on handing ``data`` over as a line (a hook for tests)."""
        return True

    def _ascii_in(self) -> bool:
        """Whether the incoming encoding decodes ASCII bytes to themselves, statelessly
        (worked out again when the client reports something new)."""
        known = self._ascii_known
        if known is not None and known[0] == self.terminal_changes and self.force_binary:
            return known[1]
        safe = ascii_safe(self.encoding(incoming=True))
        self._ascii_known = (self.terminal_changes, safe)
        return safe

    # ``_last_received`` (telnetlib3's, for its ``idle``): the fast path notes the loop's
    # time only (a ``datetime.now()`` per chunk cost more than the rest of the chunk's way)
    _received_at: float | None = None
    _received: datetime.datetime | None = None

    @property
    def _last_received(self) -> datetime.datetime | None:
        at, loop = self._received_at, self._event_loop
        if at is None or loop is None:
            return self._received
        return datetime.datetime.now() - datetime.timedelta(seconds=max(0.0, loop.time() - at))

    @_last_received.setter
    def _last_received(self, value: datetime.datetime | None) -> None:
        self._received, self._received_at = value, None

    def on_naws(self, rows: int, cols: int) -> None:
        super().on_naws(rows, cols)
        self.terminal_changes += 1

    def on_ttype(self, ttype: str) -> None:
        super().on_ttype(ttype)
        self.terminal_changes += 1

    def on_environ(self, mapping: dict[str, str]) -> None:
        super().on_environ(mapping)
        self.terminal_changes += 1

    def on_charset(self, charset: str) -> None:
        super().on_charset(charset)
        self.terminal_changes += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername") or ("unknown", 0)
        if not self.gate.enter(str(peer[0])):
            log.warning("telnet_refused_address_limit", address=peer[0])
            transport.write(REFUSED)  # type: ignore[attr-defined]
            transport.close()
            return
        self._address = str(peer[0])
        assert isinstance(self.writer, KadathWriter)
        self.writer.mssp = self.mssp
        self.writer.set_ext_callback(GMCP, self._on_gmcp)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is not None:
            self.gate.leave(self._address)
            self._address = None
        super().connection_lost(exc)

    def set_timeout(self, duration: int = -1) -> None:
        """telnetlib3's idle timer, but input (which restarts it, ``duration`` -1) only notes
        the time while the timer runs: the timer moves itself when it fires, instead of
        being cancelled and scheduled again for every read."""
        loop = self._event_loop
        if loop is None:  # looked up once: each lookup is a getpid() system call
            loop = self._event_loop = asyncio.get_running_loop()
        if duration == -1 and self._timer is not None and not self._timer.cancelled():
            self._active_at = loop.time()
            return
        super().set_timeout(duration)
        self._active_at = loop.time()

    def on_timeout(self) -> None:
        loop = asyncio.get_running_loop()
        left = self._active_at + float(self.get_extra_info("timeout") or 0) - loop.time()
        if left > IDLE_SLACK and self._timer is not None:
            if self._timer in self._tasks:
                self._tasks.remove(self._timer)
            self._timer = loop.call_later(left, self.on_timeout)
            self._tasks.append(self._timer)
            return
        super().on_timeout()

    def begin_negotiation(self) -> None:
        if self._address is None:
            return  # refused
        super().begin_negotiation()  # DO TTYPE, and the timer that ends the wait
        assert self.writer is not None
        for command, option in (
            (WILL, SGA),
            (DO, NAWS),
            (WILL, EOR),
            (WILL, GMCP),
            (WILL, MSSP),
            (WILL, MCCP2_COMPRESS),
        ):
            self.writer.iac(command, option)

    def on_request_charset(self) -> list[str]:
        """Offer UTF-8 only: the world's text is UTF-8."""
        return ["UTF-8"]

    def _negotiate_echo(self) -> None:
        """Never offer to echo: the client echoes, except while a password is typed."""
        self._echo_negotiated = True

    def _on_gmcp(self, package: str, data: Any) -> None:
        assert self.writer is not None
        for answer, body in self.gmcp.receive(package, data):
            self.writer.send_gmcp(answer, body)
