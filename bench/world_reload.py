"""What a world reload and a builder's check cost, on the packaged world (or ``--world DIR``).

    uv run python bench/world_reload.py [--world DIR] [--repeat 20]

Prints one JSON document, in milliseconds: loading and checking the files (done in a thread
by ``reload world``), the swap (``World.adopt`` plus rebuilding the room cache and the NPC
territory: the part that runs on the event loop), and the whole-world check every builder
command runs on the loop before it changes anything.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from kadath.npc.territory import Territory
from kadath.persistence.repositories.room import RoomCache
from kadath.world import DEFAULT_WORLD_DIR, load_world
from kadath.world.writer import find_world_problems


def mean_ms(work: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return round((time.perf_counter() - started) / repeat * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, default=DEFAULT_WORLD_DIR)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    world, fresh = load_world(args.world), load_world(args.world)
    territory, cache = Territory(world), RoomCache(world)

    def swap() -> None:
        world.adopt(fresh)
        territory.rebuild()
        cache.rebuild()

    print(
        json.dumps(
            {
                "rooms": len(world.rooms),
                "load_and_check_ms": mean_ms(lambda: load_world(args.world), args.repeat),
                "swap_on_loop_ms": mean_ms(swap, args.repeat),
                "builder_check_on_loop_ms": mean_ms(
                    lambda: find_world_problems(world.copy()), args.repeat
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
