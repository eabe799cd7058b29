"""Run ``kadath serve`` under cProfile, for bench/load.py ``--server-cprofile``.

    KADATH_BENCH_CPROFILE=/tmp/out.prof python bench/load_serve.py serve --host 127.0.0.1 --port N

The profile is written when the server exits (SIGTERM or SIGINT: uvicorn shuts down gracefully
and ``main`` returns). A benchmark hook only: nothing under src/ knows about it.
"""

from __future__ import annotations

import cProfile
import os
import sys

from kadath.cli import main


def run() -> int:
    path = os.environ.get("KADATH_BENCH_CPROFILE")
    if not path:
        return main(sys.argv[1:])
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return main(sys.argv[1:])
    finally:
        profiler.disable()
        profiler.dump_stats(path)


if __name__ == "__main__":
    sys.exit(run())
