"""Rate limit for repeated warnings and errors: the same event with the same exception type is
written at most ``limit`` times per window; the rest are counted and summed up in one line."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Key = tuple[str, str, str]
SUPPRESSED_EVENT = "log_suppressed"


@dataclass
class _Window:
    started: float
    written: int = 0
    suppressed: int = 0


class RepeatLimiter(logging.Filter):
    """A logging filter (run on the caller's thread, so it only counts: no formatting).

    ``summary`` receives a record "suppressed N similar" when a window with suppressed
    records closes, checked whenever a record passes and on ``flush``."""

    def __init__(
        self,
        summary: Callable[[logging.LogRecord], None],
        *,
        limit: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._summary, self._limit, self._window, self._clock = summary, limit, window, clock
        self._windows: dict[Key, _Window] = {}
        self._next_sweep = 0.0
        self._lock = threading.Lock()  # records come from the loop and from worker threads

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            return self._admit(record)

    def _admit(self, record: logging.LogRecord) -> bool:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        if record.levelno < logging.WARNING:
            return True
        key = _key_of(record)
        window = self._windows.get(key)
        if window is None or now - window.started >= self._window:
            if window is not None:
                self._summarise(key, window)
            window = self._windows[key] = _Window(now)
        if window.written < self._limit:
            window.written += 1
            return True
        window.suppressed += 1
        return False

    def flush(self) -> None:
        """Sum up every window that suppressed something, closed or not."""
        with self._lock:
            for key, window in list(self._windows.items()):
                self._summarise(key, window)
            self._windows.clear()

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + min(1.0, self._window)
        for key, window in list(self._windows.items()):
            if now - window.started >= self._window:
                self._summarise(key, window)
                del self._windows[key]

    def _summarise(self, key: Key, window: _Window) -> None:
        if window.suppressed:
            self._summary(_summary_record(key, window.suppressed, self._window))
            window.suppressed = 0


def _key_of(record: logging.LogRecord) -> Key:
    """(logger, event, exception type): structlog events carry a dict as the message."""
    message = record.msg
    exc_info = record.exc_info
    if isinstance(message, dict):
        event = str(message.get("event", ""))
        exc_info = message.get("exc_info", exc_info)
    else:
        event = str(message)
    exc_type = ""
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        exc_type = exc_info[0].__name__
    elif isinstance(exc_info, BaseException):
        exc_type = type(exc_info).__name__
    return record.name, event[:200], exc_type


def _summary_record(key: Key, suppressed: int, window: float) -> logging.LogRecord:
    name, event, exc_type = key
    similar = f"{event} ({exc_type})" if exc_type else event
    return logging.makeLogRecord(
        {
            "name": name,
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": f"{SUPPRESSED_EVENT}: {suppressed} similar to {similar!r} "
            f"in the last {window:g} s",
            "suppressed": suppressed,
            "similar_to": similar,
        }
    )
