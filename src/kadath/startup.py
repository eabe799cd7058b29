"""Start-up phases: how long each step of ``kadath serve`` took, logged once as ``startup_phases``.

Imports nothing heavy: the CLI creates the clock before it imports the serve path.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def seconds_since_process_start() -> float | None:
    """How long ago this process was started (from /proc on Linux; None elsewhere), so the
    first phase also counts the interpreter's own start-up and the imports before ``main``."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22: starttime
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    elapsed = now - ticks / os.sysconf("SC_CLK_TCK")
    return elapsed if elapsed >= 0 else None


def rss_kib() -> int | None:
    """This process's resident set size in KiB (from /proc on Linux; None elsewhere)."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE") // 1024


class StartupPhases:
    """Milliseconds per named phase, each measured from the end of the one before: wall time
    (``ms``) and this process's CPU time (``cpu_ms``, which a busy machine does not inflate);
    and the resident set size (KiB) when each phase ended (``rss_kib``, where /proc says)."""

    def __init__(self, *, since_process_start: bool = False) -> None:
        now = time.perf_counter()
        elapsed = seconds_since_process_start() if since_process_start else None
        self._last = now - elapsed if elapsed is not None else now
        # From the process's start the CPU clock starts at 0; otherwise from now.
        self._last_cpu = 0.0 if elapsed is not None else time.process_time()
        self.ms: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}
        self.rss_kib: dict[str, int] = {}

    def mark(self, phase: str) -> None:
        """The phase named ``phase`` ends now (a repeated name adds to it)."""
        now, cpu = time.perf_counter(), time.process_time()
        self.ms[phase] = round(self.ms.get(phase, 0.0) + (now - self._last) * 1000, 1)
        self.cpu_ms[phase] = round(self.cpu_ms.get(phase, 0.0) + (cpu - self._last_cpu) * 1000, 1)
        self._last, self._last_cpu = now, cpu
        rss = rss_kib()
        if rss is not None:
            self.rss_kib[phase] = rss

    @property
    def total_ms(self) -> float:
        return round(sum(self.ms.values()), 1)

    @property
    def total_cpu_ms(self) -> float:
        return round(sum(self.cpu_ms.values()), 1)
