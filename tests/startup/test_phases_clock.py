"""The start-up clock: phases in the order they end, wall and CPU time, from the process's start."""

from __future__ import annotations

import time

from kadath.startup import StartupPhases, seconds_since_process_start


def busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_each_phase_is_timed_from_the_end_of_the_one_before() -> None:
    phases = StartupPhases()
    busy(0.02)
    phases.mark("first")
    phases.mark("second")
    assert list(phases.ms) == ["first", "second"]
    assert phases.ms["first"] >= 20 > phases.ms["second"]
    assert phases.cpu_ms["first"] >= 19  # CPU clock granularity
    assert phases.total_ms == round(phases.ms["first"] + phases.ms["second"], 1)


def test_each_phase_records_the_resident_set_size_when_it_ended() -> None:
    phases = StartupPhases()
    phases.mark("before")
    ballast = b"\x01" * (32 * 1024 * 1024)  # every byte written: every page touched
    phases.mark("after")
    assert list(phases.rss_kib) == ["before", "after"]
    assert phases.rss_kib["after"] - phases.rss_kib["before"] >= 30 * 1024
    del ballast


def test_a_repeated_phase_adds_up() -> None:
    phases = StartupPhases()
    busy(0.01)
    phases.mark("work")
    phases.mark("other")
    busy(0.01)
    phases.mark("work")
    assert list(phases.ms) == ["work", "other"]
    assert phases.ms["work"] >= 20


def test_from_the_process_start_the_first_phase_counts_the_interpreter() -> None:
    since = seconds_since_process_start()
    assert since is not None  # Linux: /proc
    assert since > 0
    phases = StartupPhases(since_process_start=True)
    phases.mark("interpreter")
    assert phases.ms["interpreter"] >= since * 1000 - 20  # /proc counts in clock ticks
    assert phases.cpu_ms["interpreter"] > 0  # the CPU this test process has used so far
