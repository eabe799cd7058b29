"""Serving one connection: the hello handshake, then frames in, replies and events out."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from kadath.commands.base import Dispatcher
from kadath.domain.account import Account
from kadath.domain.errors import DatabaseUnavailable, DomainError, KadathError, Sanctioned
from kadath.domain.player import Player
from kadath.domain.ratelimit import TokenBucket
from kadath.realtime.hub import Hub
from kadath.realtime.outgoing import Outgoing
from kadath.realtime.protocol import (
    CLOSE_AUTH_FAILED,
    CLOSE_FORBIDDEN,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_NORMAL,
    CLOSE_RESTART,
    CLOSE_TRY_AGAIN_LATER,
    BadFrame,
    ClientFrame,
    CommandFrame,
    Hello,
    Ping,
    command,
    parse,
)
from kadath.realtime.session import Session
from kadath.realtime.transport import CommandTransport, Transport, TransportClosed
from kadath.services import messenger as frames
from kadath.services.entry import WorldEntry
from kadath.services.game import Game

log = structlog.get_logger(__name__)
HELLO_TIMEOUT = 15.0
SHUTTING_DOWN = "The server is shutting down."
TOO_MANY_WAITING = "Too many connections from your address have not said hello; try again later."
CLOSE_INTERNAL_ERROR = 1011
BUG_TEXT = "Something went wrong; it has been logged."

# (token, character name) -> (account, player id); raises DomainError when refused
Authorizer = Callable[[str, str], Awaitable[tuple[Account, Player]]]
# Drives a connection to its end instead of this handler's session (``kadath serve --cluster``:
# relayed to the process holding the character's zone, or served here on a wrapper).
Relay = Callable[[], Awaitable[None]]
# (transport, the hello as received, the character as stored) -> a Relay, or None to serve
# the connection here as usual.
Router = Callable[[Transport, str, Player], Awaitable[Relay | None]]
# After a command: True when the character was handed to another process (the session is
# closing; ``kadath serve --cluster``, when a move took it into a zone held elsewhere).
HandOver = Callable[[Session], Awaitable[bool]]


@dataclass(frozen=True)
class ConnectionLimits:
    max_line: int = 1000
    commands_per_second: float = 20.0
    burst: float = 40.0
    send_timeout: float = 5.0
    unauthenticated_per_address: int = 8


class ConnectionHandler:
    def __init__(
        self,
        hub: Hub,
        entry: WorldEntry,
        dispatcher: Dispatcher,
        authorize: Authorizer,
        limits: ConnectionLimits,
    ) -> None:
        self._hub, self._entry, self._dispatcher = hub, entry, dispatcher
        self._authorize, self._limits = authorize, limits
        self._greeting: Counter[str] = Counter()  # connections yet to say hello, by address
        self.router: Router | None = None  # set by ``kadath serve --cluster``
        self.handover: HandOver | None = None  # likewise

    @property
    def game(self) -> Game:
        return self._dispatcher.game

    async def serve(self, transport: Transport) -> None:
        """Run a connection to its end; never raises for a peer's behaviour."""
        if self._hub.closing:
            await _refuse(transport, "unavailable", SHUTTING_DOWN, CLOSE_RESTART)
            return
        session = await self._admit(transport)
        if session is None:
            return
        if not isinstance(session, Session):
            await session()  # routed by the cluster (``router``)
            return
        quit_now = False
        try:
            quit_now = await self._read_loop(transport, session)
        except TransportClosed:
            pass
        finally:
            self._hub.detach(session, quit_now=quit_now)
            await session.stop()

    async def _admit(self, transport: Transport) -> Session | Relay | None:
        """The handshake, if this address does not already hold too many connections that
        have not said hello."""
        address = transport.remote.rpartition(":")[0] or transport.remote
        if self._greeting[address] >= self._limits.unauthenticated_per_address:
            await _refuse(transport, "busy", TOO_MANY_WAITING, CLOSE_TRY_AGAIN_LATER)
            return None
        self._greeting[address] += 1
        try:
            return await self._handshake(transport)
        finally:
            self._greeting[address] -= 1
            if not self._greeting[address]:
                del self._greeting[address]

    async def _handshake(self, transport: Transport) -> Session | Relay | None:
        try:
            raw = await asyncio.wait_for(transport.receive_text(), HELLO_TIMEOUT)
            hello = self._parse_hello(raw)
            account, stored = await self._authorize(hello.token, hello.player)
            relay = await self.router(transport, raw, stored) if self.router else None
            if relay is not None:
                return relay
            player = await self._entry.enter(stored.id)
        except TimeoutError:
            await _refuse(transport, "hello_timeout", "No hello came.", CLOSE_HELLO_TIMEOUT)
            return None
        except TransportClosed:
            return None
        except BadFrame as exc:
            await _refuse(transport, exc.code, str(exc), CLOSE_AUTH_FAILED)
            return None
        except Sanctioned as exc:
            await _refuse(transport, "banned", str(exc), CLOSE_FORBIDDEN)
            return None
        except DomainError as exc:
            await _refuse(transport, "auth_failed", str(exc), CLOSE_AUTH_FAILED)
            return None
        except Exception as exc:
            await _refuse(transport, *_refusal(exc))
            return None
        if hello.batch:
            transport.use_batches()
        session = Session(transport, account, player.id, self._limits.send_timeout)
        self._hub.attach(session)
        session.start()
        try:
            await self._welcome(session, player)
        except Exception as exc:
            await self._abandon(session, exc)
            return None
        return session

    async def _abandon(self, session: Session, exc: Exception) -> None:
        """The welcome failed after the session was attached: refuse through the session's
        writer, detach it, take the character out of play and wait for the writer to end."""
        code, text, close_code = _refusal(exc)
        session.send({"type": "error", "code": code, "text": text})
        session.close(close_code, text[:120])
        self._hub.detach(session, quit_now=True)
        try:
            await self._entry.leave(session.player_id)  # out of play first, then the save
        except DatabaseUnavailable:
            log.info("save_after_failed_welcome_skipped", player_id=str(session.player_id))
        except Exception:
            log.exception("leave_after_failed_welcome_failed", player_id=str(session.player_id))
        await session.stop()

    def _parse_hello(self, raw: str) -> Hello:
        hello = parse(raw, max_line=self._limits.max_line)
        if not isinstance(hello, Hello):
            raise BadFrame("hello_expected", "The first frame must be a hello.")
        return hello

    async def _welcome(self, session: Session, player: Player) -> None:
        view, text = await self.game.rooms.describe(player)
        profession = self.game.professions.get(player.profession_id, str(player.profession_id))
        session.send(
            {
                "type": "welcome",
                "text": f"Welcome to Kadath, {player.name}.",
                "player": {
                    "id": str(player.id),
                    "name": player.name,
                    "level": player.level,
                    "health": player.health,
                    "max_health": player.max_health,
                    "lucidity": player.lucidity,
                    "max_lucidity": 100,
                    "experience": player.experience,
                    "profession": profession,
                    "is_admin": player.is_admin,
                    "role": player.role.value,
                },
                "room": view,
            }
        )
        session.send(frames.room(view, text))

    async def _read_loop(self, transport: Transport, session: Session) -> bool:
        bucket = TokenBucket(self._limits.burst, self._limits.commands_per_second)
        receive: Callable[[], Awaitable[str | CommandFrame]] = (
            transport.receive_frame
            if isinstance(transport, CommandTransport)
            else transport.receive_text
        )
        max_line = self._limits.max_line
        while True:
            raw = await receive()
            try:
                if isinstance(raw, CommandFrame):
                    frame: ClientFrame = command(raw.id, raw.text, max_line=max_line)
                else:
                    frame = parse(raw, max_line=max_line)
            except BadFrame as exc:
                error: dict[str, object] = {"type": "error", "code": exc.code, "text": str(exc)}
                if exc.re is not None:
                    error["re"] = exc.re
                session.send(error)
                continue
            if isinstance(frame, Ping):
                session.send({"type": "pong"})
            elif isinstance(frame, Hello):
                session.send({"type": "error", "code": "bad_frame", "text": "Already greeted."})
            elif isinstance(frame, CommandFrame):
                if not bucket.allow(time.monotonic()):
                    session.send(_reply(frame.id, False, "Slow down: too many commands at once."))
                    continue
                if await self._command(session, frame):
                    return True

    async def _command(self, session: Session, frame: CommandFrame) -> bool:
        if self._hub.closing:
            session.send(_reply(frame.id, False, SHUTTING_DOWN))
            return False
        player = self.game.presence.get(session.player_id)
        if player is None or self._hub.session_for(session.player_id) is not session:
            session.send(_reply(frame.id, False, "You are no longer in the world."))
            session.close(CLOSE_NORMAL, "not in the world")
            return True
        reply = await self._dispatcher.dispatch(player, frame.text)
        if reply.quit:
            await self._leave(player)  # quit saves, then replies (docs/protocol.md)
        session.send(_reply(frame.id, reply.ok, reply.text))
        if reply.quit:
            session.close(CLOSE_NORMAL, "quit")
            return True
        return self.handover is not None and await self.handover(session)

    async def _leave(self, player: Player) -> None:
        try:
            await self._entry.leave(player.id)
        except KadathError:
            # Only the position and last-active time are at stake; the rest is committed.
            log.exception("quit_save_failed", player_id=str(player.id))


def _refusal(exc: Exception) -> tuple[str, str, int]:
    """The error code, sentence and close code for a hello that failed with ``exc``: an
    outage says try again later; anything else is a bug, logged with its traceback."""
    if isinstance(exc, DatabaseUnavailable):
        log.debug("hello_refused_database_unavailable")  # the outage is logged once
        return "unavailable", str(exc), CLOSE_TRY_AGAIN_LATER
    log.error("handshake_failed", exc_info=exc)
    return "internal", BUG_TEXT, CLOSE_INTERNAL_ERROR


def _reply(frame_id: str, ok: bool, text: str) -> dict[str, object]:
    return {"type": "reply", "re": frame_id, "ok": ok, "text": text}


async def _refuse(transport: Transport, code: str, text: str, close_code: int) -> None:
    try:
        error = {"type": "error", "code": code, "text": text}
        await transport.send_frames([(1, Outgoing(error))])
        await transport.close(close_code, text[:120])
    except TransportClosed:
        pass
