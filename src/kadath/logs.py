"""Logs that cannot hurt the event loop: JSON when not on a terminal, plain lines on one.

structlog events and stdlib records are only stamped and queued on the caller's thread;
a listener thread renders them (tracebacks without local variables), scrubs secrets and
writes. Repeated warnings and errors are rate-limited (``log_repeats``).
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from kadath.log_redaction import redact_event, scrub
from kadath.log_repeats import RepeatLimiter

QUEUE_SIZE = 10_000


def capture_exc_info(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Turn ``exc_info=True`` into the exception itself while still on the raising thread,
    so the listener thread can render it (it has no exception of its own)."""
    if event_dict.get("exc_info") is True:
        event_dict["exc_info"] = sys.exc_info()
    return event_dict


class DeferredQueueHandler(logging.handlers.QueueHandler):
    """Queue the record as it is: the stdlib QueueHandler would format it here, on the loop.
    A full queue drops the record and counts it rather than block or raise."""

    def __init__(self, records: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(records)
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class Listener(logging.handlers.QueueListener):
    """Waits for room for its stop sentinel (the stdlib one raises on a full queue)."""

    def enqueue_sentinel(self) -> None:
        self.queue.put(self._sentinel)  # type: ignore[attr-defined]


class ScrubbingFormatter(structlog.stdlib.ProcessorFormatter):
    """Renders in the listener thread; whatever the line holds, no secret leaves it."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class LogPipeline:
    """The queue, its handler on the root logger, and the listener thread writing lines."""

    def __init__(
        self,
        level: int,
        formatter: logging.Formatter,
        stream: TextIO,
        replaced: dict[str, Any] | None = None,
    ) -> None:
        self._replaced = replaced  # the structlog configuration to put back on stop
        self._queue: queue.Queue[logging.LogRecord | None] = queue.Queue(QUEUE_SIZE)
        self.handler = DeferredQueueHandler(self._queue)
        self.limiter = RepeatLimiter(self.handler.enqueue)
        self.handler.addFilter(self.limiter)
        writer = logging.StreamHandler(stream)
        writer.setFormatter(formatter)
        self._writer = writer
        self._listener = Listener(self._queue, writer)
        self._level = level
        self._stopped = True

    def start(self) -> None:
        root = logging.getLogger()
        root.addHandler(self.handler)
        root.setLevel(self._level)
        self._listener.start()
        self._stopped = False
        atexit.register(self.stop)

    def flush(self) -> None:
        """Wait until every queued record is written."""
        if self._stopped:
            return
        self._queue.join()
        self._writer.flush()

    def stop(self) -> None:
        """Sum up suppressed records, write what is queued, stop the thread and put back the
        structlog configuration this pipeline replaced (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        self.limiter.flush()
        logging.getLogger().removeHandler(self.handler)
        self._listener.stop()
        self._writer.flush()
        if self._replaced is None:
            structlog.reset_defaults()
        else:
            structlog.configure(**self._replaced)


_current: LogPipeline | None = None


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, stream: TextIO | None = None
) -> LogPipeline:
    """Route structlog and stdlib logging through a started ``LogPipeline`` writing to
    ``stream`` (stderr); ``json=None`` means JSON unless the stream is a terminal."""
    global _current
    if _current is not None:
        _current.stop()
    stream = stream or sys.stderr
    as_json = json if json is not None else not _is_terminal(stream)
    numeric = logging.getLevelName(level.upper())
    replaced = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            capture_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,  # a re-configuration (tests) reaches every logger
    )
    _current = LogPipeline(numeric, _formatter(as_json), stream, replaced)
    _current.start()
    return _current


def _formatter(as_json: bool) -> logging.Formatter:
    render: list[structlog.types.Processor]
    if as_json:
        render = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        plain = structlog.dev.plain_traceback  # never rich: no local variables, no colours
        render = [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=plain)]
    return ScrubbingFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(allow=["suppressed", "similar_to"]),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_event,
            *render,
        ],
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
