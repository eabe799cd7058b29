"""The Hub: which session speaks for which character, and the Messenger that reaches them.

It also keeps a dropped character in the world for a grace period, so a quick reconnect is
seamless; the timers are tasks the Hub owns and cancels on shutdown. ``shutdown`` stops taking
commands, saves everyone, and only then tells each player so and closes: every step bounded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

import structlog

from kadath.domain.errors import KadathError
from kadath.realtime.outgoing import Outgoing
from kadath.realtime.protocol import CLOSE_FORBIDDEN, CLOSE_REPLACED, CLOSE_RESTART
from kadath.realtime.session import Session
from kadath.services import messenger as frames
from kadath.services.entry import WorldEntry
from kadath.services.messenger import Frame
from kadath.services.presence import Presence

log = structlog.get_logger(__name__)
SAVED_NOTICE = "The server is shutting down; your character has been saved."
UNSAVED_NOTICE = "The server is shutting down."
SAVE_WITHIN = 20.0  # seconds the shutdown save may take before the server stops regardless
CLOSE_WITHIN = 3.0  # seconds a client has to take its last frames before it is cut off


class Hub:
    def __init__(self, presence: Presence, grace_seconds: float) -> None:
        self._presence = presence
        self._grace = grace_seconds
        self._sessions: dict[uuid.UUID, Session] = {}
        self._linkdead: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.entry: WorldEntry | None = None
        self.frames_sent = 0
        self._waking: dict[Session, None] = {}  # fanned out to this turn, woken after it
        # Each room's sessions, in the order of its occupants, with the names tuple
        # ``Presence.names_in_room`` gave when they were found: a new tuple (someone came or
        # went) finds them again, and any change of sessions forgets them all. A room's
        # fan-out then looks up no ``uuid.UUID`` (a Python ``__hash__``) per listener.
        self._in_rooms: dict[str, tuple[tuple[str, ...], list[Session]]] = {}
        self._wake_scheduled = False
        self.closing = False  # shutting down: no new command or character is taken

    # -- Messenger ---------------------------------------------------------------------------
    def to_player(self, player_id: uuid.UUID, frame: Frame) -> None:
        session = self._sessions.get(player_id)
        if session is not None:
            session.send(frame)
            self.frames_sent += 1

    def to_room(self, room_id: str, frame: Frame, *, exclude: Iterable[uuid.UUID] = ()) -> None:
        names = self._presence.names_in_room(room_id)
        kept = self._in_rooms.get(room_id)
        if kept is None or kept[0] is not names:
            sessions = self._sessions
            found = [sessions.get(p) for p in self._presence.ids_in_room(room_id)]
            kept = self._in_rooms[room_id] = (names, [s for s in found if s is not None])
        listeners = kept[1]
        if exclude:
            skip = {self._sessions.get(p) for p in exclude}  # one session per character
            listeners = [s for s in listeners if s not in skip]
        self._deliver(listeners, frame)

    def to_world(self, frame: Frame) -> None:
        self._fan_out(list(self._sessions), frame)

    def to_players(self, player_ids: Iterable[uuid.UUID], frame: Frame) -> None:
        self._fan_out(player_ids, frame)

    def _fan_out(self, player_ids: Iterable[uuid.UUID], frame: Frame) -> None:
        """Queue ``frame`` (wrapped once, so encoded once) for each listener, in O(1) each.
        Their writers are woken only after the current turn of the event loop: the command
        that caused the fan-out queues its reply in the same turn, and the issuer's writer,
        woken by that reply, runs before the listeners' (see docs/protocol.md, ordering)."""
        shared: Outgoing | None = None
        sessions = self._sessions
        waking = self._waking
        for player_id in player_ids:
            session = sessions.get(player_id)
            if session is not None:
                if shared is None:
                    shared = Outgoing(frame)
                session.deliver(shared, wake=False)
                waking[session] = None
                self.frames_sent += 1
        if waking and not self._wake_scheduled:
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._wake_listeners)

    def _deliver(self, listeners: list[Session], frame: Frame) -> None:
        """``_fan_out`` to sessions found already (never changes ``listeners``)."""
        if not listeners:
            return
        shared = Outgoing(frame)
        waking = self._waking
        for session in listeners:
            session.deliver(shared, wake=False)
            waking[session] = None
        self.frames_sent += len(listeners)
        if not self._wake_scheduled:
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._wake_listeners)

    def _wake_listeners(self) -> None:
        self._wake_scheduled = False
        waking, self._waking = self._waking, {}
        for session in waking:
            session.wake()

    # -- sessions ----------------------------------------------------------------------------
    def attach(self, session: Session) -> None:
        """Make ``session`` the one voice of its character, closing any older one."""
        old = self._sessions.get(session.player_id)
        if old is not None and old is not session:
            old.send(frames.event("kicked", "You have connected from elsewhere; this one closes."))
            old.close(CLOSE_REPLACED, "replaced by a newer connection")
        self._sessions[session.player_id] = session
        self._in_rooms.clear()
        timer = self._linkdead.pop(session.player_id, None)
        if timer is not None:
            timer.cancel()

    def detach(self, session: Session, *, quit_now: bool) -> None:
        """The connection ended: leave at once (quit) or after the grace period."""
        if self._sessions.get(session.player_id) is not session:
            return  # already replaced by a newer connection
        del self._sessions[session.player_id]
        self._in_rooms.clear()
        delay = 0.0 if quit_now else self._grace
        self._linkdead[session.player_id] = asyncio.create_task(
            self._leave_after(session.player_id, delay), name=f"linkdead-{session.player_id}"
        )

    def disconnect(self, player_id: uuid.UUID, text: str, code: int = CLOSE_FORBIDDEN) -> None:
        """Kicked or banned: tell the player, close the connection (4403, or ``code``) and
        take the character out of play now, with no grace period."""
        session = self._sessions.pop(player_id, None)
        self._in_rooms.clear()
        if session is not None:
            session.send(frames.event("kicked", text))
            session.close(code, text[:120])
        if player_id not in self._presence:
            return
        timer = self._linkdead.pop(player_id, None)
        if timer is not None:
            timer.cancel()  # still waiting out its grace: the leave below replaces it
        self._linkdead[player_id] = asyncio.create_task(
            self._leave_after(player_id, 0.0), name=f"kicked-{player_id}"
        )

    def session_for(self, player_id: uuid.UUID) -> Session | None:
        return self._sessions.get(player_id)

    @property
    def connected(self) -> int:
        return len(self._sessions)

    async def _leave_after(self, player_id: uuid.UUID, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if player_id in self._sessions:
            return
        self._linkdead.pop(player_id, None)
        if self.entry is not None:
            try:
                await self.entry.leave(player_id)
            except Exception:
                log.exception("leave_failed", player_id=str(player_id))

    async def shutdown(self) -> None:
        """Stop taking commands, save everyone, then tell each player and close every
        connection (a client that takes no close frame is aborted). Safe to call twice."""
        self.closing = True
        await self._stop_timers()
        saved = await self._save_everyone()
        notice = frames.event("shutdown", SAVED_NOTICE if saved else UNSAVED_NOTICE)
        sessions = list(self._sessions.values())
        self._sessions.clear()
        self._in_rooms.clear()
        for session in sessions:
            session.last_word(notice, CLOSE_RESTART, "server shutting down")
        await asyncio.gather(*(s.stop(CLOSE_WITHIN) for s in sessions))

    async def _save_everyone(self) -> bool:
        if self.entry is None:
            return True
        try:
            async with asyncio.timeout(SAVE_WITHIN):
                count = await self.entry.leave_all()
        except (KadathError, TimeoutError):
            log.exception("shutdown_save_failed")
            return False
        log.info("kadath_saved", players=count)
        return True

    async def _stop_timers(self) -> None:
        timers = list(self._linkdead.values())
        self._linkdead.clear()
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
