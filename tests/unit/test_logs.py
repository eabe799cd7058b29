"""Logging that cannot hurt the loop: rendered and written off the caller's thread, plain
tracebacks, JSON off a terminal, repeated errors summed up, no secret in any line."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
import structlog

from kadath.log_redaction import scrub
from kadath.log_repeats import RepeatLimiter
from kadath.logs import QUEUE_SIZE, LogPipeline, configure_logging

log = structlog.get_logger("kadath.test")
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


class Recording(io.StringIO):
    """A stream that remembers which threads wrote to it."""

    def __init__(self, terminal: bool = False) -> None:
        super().__init__()
        self.terminal, self.writers = terminal, set[str]()

    def isatty(self) -> bool:
        return self.terminal

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        return super().write(text)


class Tattletale(Exception):
    """Remembers the threads that rendered it."""

    renderers: ClassVar[set[str]] = set()

    def __str__(self) -> str:
        Tattletale.renderers.add(threading.current_thread().name)
        return "told"


@pytest.fixture
def stream() -> Recording:
    return Recording()


@pytest.fixture
def pipeline(stream: Recording) -> Iterator[LogPipeline]:
    started = configure_logging("INFO", stream=stream)
    yield started
    started.stop()


def lines(stream: Recording) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def fail(hidden_local: str) -> None:
    raise Tattletale(hidden_local[:0])


def refuse_hello() -> None:
    raise ValueError(f"bad hello {{'token': '{JWT}'}}")


def test_exceptions_are_rendered_and_written_off_the_calling_thread_without_locals(
    pipeline: LogPipeline, stream: Recording
) -> None:
    Tattletale.renderers.clear()
    hidden = f"local-{12345 * 2}"
    try:
        fail(hidden)
    except Tattletale:
        log.exception("command_failed", command="crash")
    pipeline.flush()

    me = threading.current_thread().name
    assert Tattletale.renderers and me not in Tattletale.renderers
    assert stream.writers and me not in stream.writers
    [line] = lines(stream)
    assert line["event"] == "command_failed"
    assert "Traceback" in str(line["exception"])
    assert "Tattletale: told" in str(line["exception"])
    assert hidden not in stream.getvalue()


def test_json_off_a_terminal_and_plain_lines_on_one() -> None:
    for terminal in (False, True):
        stream = Recording(terminal)
        pipeline = configure_logging("INFO", stream=stream)
        try:
            fail("x")
        except Tattletale:
            log.exception("went_wrong", player="Alice")
        pipeline.stop()
        text = stream.getvalue()
        if terminal:
            first = text.splitlines()[0]
            assert "[error    ] went_wrong" in first and first.endswith("player=Alice")
            assert "Traceback (most recent call last)" in text
            assert "{" not in text and "│" not in text  # neither JSON nor a rich panel
        else:
            assert lines(stream)[0]["player"] == "Alice"


def test_the_setting_overrides_the_terminal_check() -> None:
    stream = Recording(terminal=True)
    pipeline = configure_logging("INFO", json=True, stream=stream)
    log.info("hello")
    pipeline.stop()
    assert lines(stream)[0]["event"] == "hello"


def test_the_level_filters_both_structlog_and_stdlib(stream: Recording) -> None:
    pipeline = configure_logging("WARNING", stream=stream)
    log.info("quiet")
    logging.getLogger("uvicorn.error").info("quiet too")
    log.warning("loud")
    pipeline.stop()
    assert [line["event"] for line in lines(stream)] == ["loud"]


def test_repeated_identical_errors_are_written_a_few_times_then_summed_up(
    pipeline: LogPipeline, stream: Recording
) -> None:
    for _ in range(50):
        try:
            fail("x")
        except Tattletale:
            log.exception("command_failed")
    try:
        {}["other"]
    except KeyError:
        log.exception("command_failed")
    pipeline.stop()

    written = lines(stream)
    failed = [line for line in written if line["event"] == "command_failed"]
    assert len(failed) == 6  # five Tattletales and the KeyError
    [summary] = [line for line in written if line.get("suppressed")]
    assert summary["suppressed"] == 45
    assert summary["similar_to"] == "command_failed (Tattletale)"
    assert summary["level"] == "warning"


def test_a_window_that_closes_is_summed_up_by_the_next_record() -> None:
    now = [0.0]
    summaries: list[logging.LogRecord] = []
    limiter = RepeatLimiter(summaries.append, limit=2, window=10.0, clock=lambda: now[0])
    record = logging.makeLogRecord({"name": "x", "levelno": logging.ERROR, "msg": "boom"})
    assert [limiter.filter(record) for _ in range(5)] == [True, True, False, False, False]
    now[0] = 11.0
    assert limiter.filter(record)
    assert [s.suppressed for s in summaries] == [3]  # type: ignore[attr-defined]
    info = logging.makeLogRecord({"name": "x", "levelno": logging.INFO, "msg": "fine"})
    assert all(limiter.filter(info) for _ in range(50))


def test_no_secret_reaches_a_line_by_key_by_shape_or_through_stdlib(
    pipeline: LogPipeline, stream: Recording
) -> None:
    log.info("login", password="hunter2", access_token="opaque-1", note=f"got {JWT} today")
    log.info("request", headers={"Authorization": "Bearer opaque-2"}, path="/ws?token=opaque-3")
    logging.getLogger("uvicorn.access").info('"GET /x?access_token=%s HTTP/1.1" 200', "opaque-4")
    logging.getLogger("uvicorn.error").warning("Authorization: Bearer %s", "opaque-5")
    try:
        refuse_hello()
    except ValueError:
        log.exception("handshake_failed")
    pipeline.flush()

    text = stream.getvalue()
    assert len(text.splitlines()) == 5
    for secret in ("hunter2", "opaque-", JWT[:12], JWT.split(".")[1][:8], JWT.split(".")[2][:8]):
        assert secret not in text
    assert text.count("[redacted]") >= 7


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("GET /ws?token=abc&room=1", "room=1"),
        ('{"password": "p4ss", "name": "Alice"}', '"name": "Alice"'),
        ("authorization=Basic dXNlcjpwYXNz", "authorization="),
        ("tokens spent: 3", "tokens spent: 3"),
    ],
)
def test_scrub_keeps_what_is_not_secret(line: str, kept: str) -> None:
    scrubbed = scrub(line)
    assert kept in scrubbed
    assert "abc" not in scrubbed and "p4ss" not in scrubbed and "dXNlcjpwYXNz" not in scrubbed


class Stuck(Recording):
    """A stream whose writes wait until released, as a full pipe would."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def write(self, text: str) -> int:
        self.released.wait(30)
        return super().write(text)


def test_a_stuck_stream_never_blocks_the_caller_records_are_dropped_and_counted() -> None:
    stream = Stuck()
    pipeline = configure_logging("INFO", stream=stream)
    for n in range(QUEUE_SIZE + 100):
        log.info("busy", n=n)
    assert pipeline.handler.dropped >= 99
    stream.released.set()
    pipeline.stop()
    assert len(stream.getvalue().splitlines()) == QUEUE_SIZE + 100 - pipeline.handler.dropped


def test_ordinary_words_next_to_secret_names_survive() -> None:
    assert scrub("the ring bearer of doom") == "the ring bearer of doom"
    assert scrub("basic training") == "basic training"


def test_stopping_the_pipeline_restores_the_logging_it_replaced(stream: Recording) -> None:
    """A stopped pipeline puts back the structlog configuration that was in place before it,
    not structlog's defaults (which render tracebacks with rich, slowly, on the caller's
    thread: a test server started after a logging test would log that way)."""
    before = structlog.get_config()
    marker = structlog.processors.KeyValueRenderer()
    structlog.configure(processors=[marker])
    try:
        started = configure_logging("INFO", stream=stream)
        assert marker not in structlog.get_config()["processors"]
        started.stop()
        assert structlog.get_config()["processors"] == [marker]
    finally:
        structlog.configure(**before)
