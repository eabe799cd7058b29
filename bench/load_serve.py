"""Run ``kadath serve`` under cProfile, for bench/load.py ``--server-cprofile``.

    KADATH_BENCH_CPROFILE=/tmp/out.prof python bench/load_serve.py serve --host 127.0.0.1 --port N

``BENCH_CPROFILE_CLOCK=cpu`` counts the main thread's CPU time instead of wall time (slower
under the profiler, but time waiting for the CPU or in the loop's select is not counted; it
passes through bench/cluster.py, which keeps no ``KADATH_`` variable of its own environment).

The profile is written when the server exits. uvicorn shuts down gracefully on SIGTERM and then
re-raises the signal with the handler it found installed: ours turns it into SystemExit, so the
profile is dumped instead of the process dying. A benchmark hook only: nothing under src/ knows
about it.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
import time
from types import FrameType

from kadath.cli import main


def _exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run() -> int:
    path = os.environ.get("KADATH_BENCH_CPROFILE")
    if not path:
        return main(sys.argv[1:])
    signal.signal(signal.SIGTERM, _exit)
    # BENCH_CPROFILE_CLOCK=cpu: the main thread's CPU time (a syscall a call: slower,
    # but time spent waiting for the CPU or in the loop's select is not counted).
    cpu = os.environ.get("BENCH_CPROFILE_CLOCK") == "cpu"
    profiler = cProfile.Profile(time.thread_time) if cpu else cProfile.Profile()
    profiler.enable()
    try:
        return main(sys.argv[1:])
    finally:
        profiler.disable()
        profiler.dump_stats(path)


if __name__ == "__main__":
    sys.exit(run())
