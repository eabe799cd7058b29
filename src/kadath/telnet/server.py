"""The telnet listener: accepts MUD clients, signs them in, and hands them to the same
connection handler the WebSocket uses. An owned resource: started and stopped by the app."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass

import structlog
from telnetlib3.stream_reader import TelnetReader, TelnetReaderUnicode
from telnetlib3.stream_writer import TelnetWriter, TelnetWriterUnicode

from kadath.commands.base import CommandTable
from kadath.domain.errors import KadathError
from kadath.listening import listening_socket
from kadath.realtime.connection import ConnectionHandler
from kadath.realtime.transport import TransportClosed
from kadath.services.auth import AuthService
from kadath.services.characters import CharacterService
from kadath.telnet import mssp
from kadath.telnet.chat import channel_finder
from kadath.telnet.inventory import ItemsOf, item_command_finder
from kadath.telnet.protocol import AddressGate, KadathTelnetProtocol
from kadath.telnet.signin import Goodbye, SignIn
from kadath.telnet.terminal_io import TerminalIO
from kadath.telnet.transport import GameView, TelnetTransport

log = structlog.get_logger(__name__)
READ_LIMIT = 8192
STOP_SECONDS = 5.0


@dataclass(frozen=True)
class TelnetOptions:
    host: str
    port: int
    max_line: int = 1000
    login_timeout: float = 120.0
    idle_timeout: int = 1800
    write_timeout: float = 30.0
    connections_per_ip: int = 10
    negotiation_wait: float = 1.0


class TelnetListener:
    def __init__(
        self,
        options: TelnetOptions,
        auth: AuthService,
        characters: CharacterService,
        connections: ConnectionHandler,
        commands: CommandTable,
        items_of: ItemsOf,
    ) -> None:
        self._options = options
        self._auth, self._characters, self._connections = auth, characters, connections
        self._view = GameView(
            connections.game.world,
            channel_finder(commands),
            item_command_finder(commands),
            items_of,
        )
        self._server: asyncio.Server | None = None
        self._clients: weakref.WeakSet[KadathTelnetProtocol] = weakref.WeakSet()
        self._gate = AddressGate(options.connections_per_ip)
        self._shells: set[asyncio.Task[object]] = set()
        self.port = options.port

    async def start(self) -> None:
        """Bind and listen. Raises OSError when the address is taken."""
        game = self._connections.game
        attributes = {
            "gate": self._gate,
            "mssp": staticmethod(lambda: mssp.variables(game, self.port)),
        }
        protocol: type[KadathTelnetProtocol] = type(
            "KadathTelnet", (KadathTelnetProtocol,), attributes
        )

        def connection() -> KadathTelnetProtocol:
            # what telnetlib3's create_server makes for each connection, with these options
            made = protocol(
                shell=self._shell,
                encoding="utf8",
                encoding_errors="replace",
                force_binary=True,
                connect_maxwait=self._options.negotiation_wait,
                compression=True,
                limit=READ_LIMIT,
                timeout=self._options.idle_timeout,
            )
            self._clients.add(made)
            return made

        # telnetlib3's create_server takes no socket, so the listener is made here: an address
        # is bound without the loop resolving it (kadath.listening), a host name is resolved.
        loop = asyncio.get_running_loop()
        host, port = self._options.host, self._options.port
        sock = listening_socket(host, port)
        if sock is None:
            self._server = await loop.create_server(connection, host, port)
        else:
            self._server = await loop.create_server(connection, sock=sock)
        sockets = self._server.sockets or ()
        self.port = sockets[0].getsockname()[1] if sockets else self._options.port
        log.info("telnet_listening", host=self._options.host, port=self.port)

    def open_connections(self) -> int:
        """Telnet connections open now, signed in or not (refused ones are not counted)."""
        return len(self._gate)

    async def run(self) -> None:
        """Serve until cancelled, then close every telnet connection."""
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for client in list(self._clients):  # as telnetlib3's Server.close: every client too
            if client._transport is not None:
                client._transport.close()
        shells = list(self._shells)
        if shells:
            _, late = await asyncio.wait(shells, timeout=STOP_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), STOP_SECONDS)

    async def _shell(
        self, reader: TelnetReader | TelnetReaderUnicode, writer: TelnetWriter | TelnetWriterUnicode
    ) -> None:
        # the server is created with an encoding, so its streams are the text ones
        assert isinstance(reader, TelnetReaderUnicode)
        assert isinstance(writer, TelnetWriterUnicode)
        task = asyncio.current_task()
        if task is not None:
            self._shells.add(task)
        io = TerminalIO(
            reader,
            writer,
            max_line=self._options.max_line,
            write_timeout=self._options.write_timeout,
        )
        try:
            await self._serve(io)
        except TransportClosed:
            pass
        except Exception:
            log.exception("telnet_session_failed", remote=io.remote)
        finally:
            if task is not None:
                self._shells.discard(task)
            writer.close()

    async def _serve(self, io: TerminalIO) -> None:
        try:
            async with asyncio.timeout(self._options.login_timeout):
                signed = await SignIn(io, self._auth, self._characters).run()
        except TimeoutError:
            await io.close("You took too long to sign in; goodbye.")
            return
        except Goodbye as goodbye:
            await io.close(str(goodbye))
            return
        except KadathError:
            log.exception("telnet_sign_in_failed", remote=io.remote)
            await io.close("The world is unavailable; try again soon.")
            return
        transport = TelnetTransport(io, self._view, signed.token, signed.character)
        await self._connections.serve(transport)
