"""What a crashing command costs the event loop: the time ``Dispatcher.dispatch`` holds the
calling thread, with main's old console logging (rich tracebacks with locals) and with
``configure_logging`` (queued, rendered by a listener thread).

    uv run python bench/log_cost.py [--errors 200] [--old 5]

Log lines go to /dev/null. One JSON document goes to stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import time
from typing import Any

import structlog

from kadath.commands.base import Command, CommandTable, Context, Dispatcher
from kadath.domain.account import Role
from kadath.logs import configure_logging


class Crash(Command):
    """A bug deep in a command, holding large locals; each of a new exception type, so the
    repeat limit never drops one (the worst case: every traceback rendered)."""

    names = ("crash",)
    usage = "crash"
    while_frozen = True  # the dispatcher then asks no sanction book (there is no game here)
    raised = 0

    async def run(self, ctx: Context) -> str:
        ballast = dict.fromkeys(range(2_000), "x" * 100)
        Crash.raised += 1
        bug = type(f"Bug{Crash.raised}", (RuntimeError,), {})
        raise bug(f"a bug with {len(ballast)} things in hand")


class Player:
    role = Role.PLAYER


def old_main_logging(sink: Any) -> None:
    """configure_logging as it was on main (console, structlog's default exception formatter)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(sink),
        cache_logger_on_first_use=False,
    )


async def crash_times(count: int) -> list[float]:
    table = CommandTable()
    table.register(Crash())
    dispatcher = Dispatcher(table, game=None)  # type: ignore[arg-type]
    times = []
    for _ in range(count):
        started = time.perf_counter()
        reply = await dispatcher.dispatch(Player(), "crash")  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        assert "went wrong" in reply.text
    return times


def summary(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
        "max_ms": round(ms[-1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", type=int, default=200)
    parser.add_argument("--old", type=int, default=5, help="crashes under the old logging")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with open(os.devnull, "w") as sink:
        old_main_logging(sink)
        results["old_console_rich"] = summary(asyncio.run(crash_times(args.old)))
        pipeline = configure_logging("INFO", json=True, stream=sink)
        results["queued_json"] = summary(asyncio.run(crash_times(args.errors)))
        pipeline.stop()
        pipeline = configure_logging("INFO", json=False, stream=sink)
        results["queued_console"] = summary(asyncio.run(crash_times(args.errors)))
        pipeline.stop()
    logging.shutdown()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
