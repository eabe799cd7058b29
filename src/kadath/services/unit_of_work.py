"""The unit-of-work port: what a use case needs of a transaction. Persistence implements it
(``kadath.persistence.uow``); only the composition root knows that class."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol

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

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork(Protocol):
    """``async with uow:`` is one transaction over every repository: a clean exit commits, an
    exception rolls back; ``after_commit`` callbacks run only once the commit succeeded."""

    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def players(self) -> PlayerRepository: ...
    @property
    def rooms(self) -> RoomRepository: ...
    @property
    def health(self) -> HealthRepository: ...
    @property
    def experience(self) -> ExperienceRepository: ...
    @property
    def professions(self) -> ProfessionRepository: ...
    @property
    def containers(self) -> ContainerRepository: ...
    @property
    def items(self) -> ItemRepository: ...
    @property
    def exploration(self) -> ExplorationRepository: ...
    @property
    def moderation(self) -> ModerationRepository: ...
    @property
    def channels(self) -> ChannelRepository: ...
    @property
    def ignores(self) -> IgnoreRepository: ...
    @property
    def grants(self) -> BuildGrantRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` after a successful commit (events, notifications)."""


UnitOfWorkFactory = Callable[[], UnitOfWork]
