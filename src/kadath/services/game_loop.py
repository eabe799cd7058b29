"""The tick loop: one task owned by the lifespan, running timed steps at a fixed rate.

Steps run in order each tick; a step with ``every`` runs on its own schedule. Each step is
timed; a failing step is logged and the loop goes on; the schedule is drift-compensated (the
next tick is due one period after the last one was due, not after it finished), and a tick
that overruns its period is counted, not queued up.

A ``detached`` step (one that waits on the database, like a combat round) runs as a task the
loop owns, so the tick never waits for it; if the previous run is still going when it is due
again, that run is skipped and counted. The loop cancels and awaits it when it stops."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from kadath.domain.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from prometheus_client.core import Metric

log = structlog.get_logger(__name__)
StepFn = Callable[[float], Awaitable[None]]
WINDOW = 2000


@dataclass
class Step:
    name: str
    run: StepFn
    every: float | None = None
    detached: bool = False
    due: float = 0.0
    failures: int = 0
    skipped: int = 0
    task: asyncio.Task[None] | None = None
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))


class GameLoop:
    def __init__(self, rate: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("the tick rate must be positive")
        self.period = 1.0 / rate
        self._clock = clock
        self._steps: list[Step] = []
        self.ticks = 0
        self.ticked = asyncio.Event()  # set by the first tick (start-up waits for it)
        self.overruns = 0
        self.durations: deque[float] = deque(maxlen=WINDOW)
        self.lateness: deque[float] = deque(maxlen=WINDOW)

    def add_step(
        self, name: str, run: StepFn, *, every: float | None = None, detached: bool = False
    ) -> None:
        """Run ``run(now)`` every tick, or every ``every`` seconds; ``detached`` ones beside
        the tick rather than inside it."""
        if any(s.name == name for s in self._steps):
            raise ValueError(f"step {name!r} added twice")
        self._steps.append(Step(name, run, every, detached))

    async def tick(self, now: float) -> None:
        """Run the steps due at ``now`` once (the loop calls this; tests may too)."""
        started = time.perf_counter()
        for step in self._steps:
            if step.every is not None:
                if now < step.due:
                    continue
                step.due = now + step.every
            if not step.detached:
                await _timed(step, now)
            elif step.task is not None and not step.task.done():
                step.skipped += 1
            else:
                step.task = asyncio.create_task(_timed(step, now), name=f"step-{step.name}")
        self.ticks += 1
        self.ticked.set()
        self.durations.append(time.perf_counter() - started)

    async def settle(self) -> None:
        """Wait for the detached steps now running to finish (tests, orderly shutdown)."""
        tasks = [s.task for s in self._steps if s.task is not None and not s.task.done()]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop_detached(self) -> None:
        """Cancel and await the detached steps still running."""
        tasks = [s.task for s in self._steps if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        """Tick forever at the configured rate (cancel to stop)."""
        try:
            await self._run()
        finally:
            await self.stop_detached()

    async def _run(self) -> None:
        next_due = self._clock()
        while True:
            now = self._clock()
            self.lateness.append(max(0.0, now - next_due))
            await self.tick(now)
            next_due += self.period
            after = self._clock()
            if after > next_due:
                self.overruns += 1
                # Skip the ticks we missed instead of running them back to back.
                missed = int((after - next_due) / self.period) + 1
                next_due += missed * self.period
            await asyncio.sleep(max(0.0, next_due - self._clock()))

    def stats(self) -> dict[str, float]:
        durations = sorted(self.durations)

        def pct(q: float) -> float:
            if not durations:
                return 0.0
            return round(durations[min(len(durations) - 1, int(q * len(durations)))] * 1000, 3)

        return {
            "ticks": float(self.ticks),
            "tick_overruns": float(self.overruns),
            "tick_p50_ms": pct(0.5),
            "tick_p99_ms": pct(0.99),
        }

    def metrics(self) -> Iterator[Metric]:
        """The loop's Prometheus families (prometheus_client is imported at the first scrape)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        yield CounterMetricFamily("kadath_ticks", "Game loop ticks run", self.ticks)
        yield CounterMetricFamily("kadath_tick_overruns", "Ticks that overran", self.overruns)
        stats = self.stats()
        durations = GaugeMetricFamily(
            "kadath_tick_duration_ms", "Recent tick duration", labels=["quantile"]
        )
        durations.add_metric(["p50"], stats["tick_p50_ms"])
        durations.add_metric(["p99"], stats["tick_p99_ms"])
        yield durations
        steps = GaugeMetricFamily(
            "kadath_tick_step_last_ms", "Last duration of each tick step", labels=["step"]
        )
        failures = CounterMetricFamily(
            "kadath_tick_step_failures", "Failed runs of each tick step", labels=["step"]
        )
        skipped = CounterMetricFamily(
            "kadath_tick_step_skipped", "Detached step runs skipped: still busy", labels=["step"]
        )
        for step in self._steps:
            last = step.durations[-1] * 1000 if step.durations else 0.0
            steps.add_metric([step.name], round(last, 3))
            failures.add_metric([step.name], step.failures)
            skipped.add_metric([step.name], step.skipped)
        yield steps
        yield failures
        yield skipped


async def _timed(step: Step, now: float) -> None:
    started = time.perf_counter()
    try:
        await step.run(now)
    except DatabaseUnavailable:
        step.failures += 1  # the outage itself is logged once, by the database's availability
    except Exception:
        step.failures += 1
        log.exception("tick_step_failed", step=step.name)
    step.durations.append(time.perf_counter() - started)
