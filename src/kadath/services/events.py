"""An in-process event bus. Subscribers run after the change is committed; a failing
subscriber is logged and never fails the command that raised the event.

The interface is small on purpose: a NATS-backed bus for several processes can stand behind it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

Handler = Callable[[Any], Awaitable[None] | None]
log = structlog.get_logger(__name__)


class EventBus(Protocol):
    def subscribe(self, event_type: type, handler: Handler) -> None: ...

    async def publish(self, event: object) -> None: ...


class LocalEventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)
        self.published = 0

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, event: object) -> None:
        self.published += 1
        for handler in self._handlers.get(type(event), ()):
            try:
                result = handler(event)
                if result is not None:
                    await result
            except Exception:
                log.exception("event_handler_failed", event_type=type(event).__name__)
