"""The unit of work: one transaction spanning every repository, committed once on success."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType

import structlog
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kadath.domain.errors import DatabaseUnavailable, KadathError
from kadath.domain.world import ItemPrototype
from kadath.persistence.availability import DatabaseAvailability
from kadath.persistence.errors import translate
from kadath.persistence.repositories import (
    AccountRepository,
    BuildGrantRepository,
    ChannelRepository,
    ContainerRepository,
    ExperienceRepository,
    ExplorationRepository,
    HealthRepository,
    IgnoreRepository,
    ItemRepository,
    ModerationRepository,
    PlayerRepository,
    ProfessionRepository,
    RoomRepository,
)
from kadath.persistence.repositories.room import RoomCache
from kadath.persistence.touches import RoomTouches

SessionFactory = async_sessionmaker[AsyncSession]
READ_ONLY = "kadath_read_only"
AfterCommit = Callable[[], Awaitable[None]]
# Tests only: called with "execute" before each statement and "commit" before the commit;
# raising from it injects a failure at that point. None (the default) costs nothing.
FaultHook = Callable[[str], None]
# Cluster only (``AsyncPersistenceLayer.fence``): the guard of a write to these rooms' floors
# and containers, or of characters' positions saved in them, run in the writing transaction
# just before its commit; raises ZoneMoved (a KadathError) when this process may not write
# their zones, and nothing is committed.
RoomFence = Callable[[AsyncSession, set[str]], Awaitable[None]]
log = structlog.get_logger(__name__)


class UnitOfWork:
    """``async with uow:`` opens a session and a transaction; a clean exit commits, an
    exception rolls back. Callbacks given to ``after_commit`` run once the commit succeeded."""

    accounts: AccountRepository
    players: PlayerRepository
    rooms: RoomRepository
    health: HealthRepository
    experience: ExperienceRepository
    professions: ProfessionRepository
    containers: ContainerRepository
    items: ItemRepository
    exploration: ExplorationRepository
    moderation: ModerationRepository
    channels: ChannelRepository
    ignores: IgnoreRepository
    grants: BuildGrantRepository

    def __init__(
        self,
        session_factory: SessionFactory,
        rooms: RoomCache,
        prototypes: dict[str, ItemPrototype],
        on_rooms_changed: Callable[[set[str]], None] | None = None,
        *,
        read_only: bool = False,
        fault: FaultHook | None = None,
        availability: DatabaseAvailability | None = None,
        fence: RoomFence | None = None,
    ) -> None:
        self._factory = session_factory
        self._fence = fence
        self._availability = availability
        self._rooms = rooms
        self._prototypes = prototypes
        self._on_rooms_changed = on_rooms_changed
        self._read_only = read_only
        self._fault = fault
        self._touches = RoomTouches()
        self._session: AsyncSession | None = None
        self._after_commit: list[AfterCommit] = []

    async def __aenter__(self) -> UnitOfWork:
        if self._session is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        session = self._factory()
        self._session = session
        self._touches = RoomTouches()
        if self._fault is not None:
            _install_fault(session, self._fault)
        if self._read_only:
            # Tells the SQLite engine to open a plain (deferred) transaction: see engine.py.
            try:
                await session.connection(execution_options={READ_ONLY: True})
            except BaseException as exc:
                self._session = None
                await session.close()
                self._raise_translated(exc)
                raise
        self.accounts = AccountRepository(session)
        self.players = PlayerRepository(session, self._touches)
        self.rooms = RoomRepository(self._rooms)
        self.health = HealthRepository(session)
        self.experience = ExperienceRepository(session)
        self.professions = ProfessionRepository(session)
        self.containers = ContainerRepository(session, self._touches)
        self.items = ItemRepository(session, self._prototypes, self._touches)
        self.exploration = ExplorationRepository(session)
        self.moderation = ModerationRepository(session)
        self.channels = ChannelRepository(session)
        self.ignores = IgnoreRepository(session)
        self.grants = BuildGrantRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        assert session is not None
        try:
            if exc_type is None:
                if self._fence is not None:
                    fenced = self._touches.rooms | self._touches.positions
                    if fenced:
                        await self._fence(session, fenced)
                await session.commit()
            else:
                self._after_commit.clear()
                await self._close_quietly(session)
        except (SQLAlchemyError, OSError) as err:
            self._after_commit.clear()
            await self._close_quietly(session)
            self._raise_translated(err)
            raise
        except KadathError:  # the fence refused: nothing of this unit of work is stored
            self._after_commit.clear()
            await self._close_quietly(session)
            raise
        finally:
            await session.close()
            self._session = None
        if exc is not None:
            self._raise_translated(exc)  # else a bug or a refusal: propagates as it is
        if exc_type is None:
            if self._touches.rooms and self._on_rooms_changed is not None:
                self._on_rooms_changed(self._touches.rooms)
            callbacks, self._after_commit = self._after_commit, []
            for callback in callbacks:
                try:
                    await callback()
                except Exception:
                    # The change is committed; a failing follower must not undo the reply.
                    log.exception("after_commit_failed", callback=repr(callback))

    def _raise_translated(self, exc: BaseException) -> None:
        """Raise the Kadath error for a database failure (noting an outage); return for
        anything else, which the caller re-raises as it is."""
        translated = exc if isinstance(exc, KadathError) else translate(exc)
        if isinstance(translated, DatabaseUnavailable) and self._availability is not None:
            self._availability.lost(translated.__cause__ or translated)
        if translated is None or translated is exc:
            return
        raise translated from exc

    @staticmethod
    async def _close_quietly(session: AsyncSession) -> None:
        # A rollback on a lost connection fails too: the first error is the one to report.
        try:
            await session.rollback()
        except (SQLAlchemyError, OSError):
            log.debug("rollback_after_failure_failed")

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` after a successful commit (events, notifications)."""
        self._after_commit.append(callback)

    @property
    def session(self) -> AsyncSession:
        """The open session, for repositories added by extensions."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session


def _install_fault(session: AsyncSession, fault: FaultHook) -> None:
    event.listen(session.sync_session, "do_orm_execute", lambda _state: fault("execute"))
    event.listen(session.sync_session, "before_commit", lambda _session: fault("commit"))
