"""What holding zones costs a ``kadath engine``: server CPU (from /proc) per zone renewal.

Starts a private ``nats-server -js`` on a free port and a fresh PostgreSQL database on the
server named by ``--postgres`` (default: KADATH_TEST_POSTGRES_URL's server), runs
``python -m kadath engine`` holding the packaged world's zones, waits until it holds them, then
reads the engine's and nats-server's CPU time over ``--seconds``. Each renewal is one fenced
PostgreSQL transaction, one KV compare-and-swap and one pin read per zone. Since ``kadath
engine`` runs its zones' game (issue 11, "Roles"), the engine's CPU also counts its idle game
loop (no players; NPC spawning off in bench/cluster_parts.py's settings).

    python3 -m uv run --frozen python bench/lease_cost.py --seconds 60 --renew 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from cluster_parts import Node, migrated_database, private_nats
from kadath.cluster.config import ClusterConfig
from kadath.cluster.zones import zone_statuses
from kadath.world import DEFAULT_WORLD_DIR, load_world

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--renew", type=float, default=1.0, help="renewal period (s)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "KADATH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    zones = sorted(load_world(DEFAULT_WORLD_DIR).zones)
    root = Path(tempfile.mkdtemp(prefix="kadath-lease-cost-"))
    async with migrated_database(args.postgres) as url, private_nats(root) as nats:
        engine = Node(
            "bench", url, nats.url, root,
            KADATH_ZONE_RENEW_SECONDS=str(args.renew),
            KADATH_ZONE_LEASE_SECONDS=str(3 * args.renew),
        )  # fmt: skip
        engine.command = ["engine"]
        config = ClusterConfig(
            database_url=url,
            nats_url=nats.url,
            engine_id="observer",
            lease_seconds=3 * args.renew,
            renew_seconds=args.renew,
            bucket="kadath_zones",
        )
        try:
            await engine.start()
            deadline = time.monotonic() + 60
            while not all(s.owner == "bench" for s in await zone_statuses(config, zones)):
                if time.monotonic() > deadline:
                    sys.exit(f"the engine does not hold every zone; see {engine.log_path}")
                await asyncio.sleep(0.2)
            load_before = load_average()
            engine_0, nats_0 = cpu_seconds(engine.pid), cpu_seconds(nats.pid)
            started = time.monotonic()
            await asyncio.sleep(args.seconds)
            elapsed = time.monotonic() - started
            engine_cpu = cpu_seconds(engine.pid) - engine_0
            nats_cpu = cpu_seconds(nats.pid) - nats_0
        finally:
            await engine.stop()
    renewals = len(zones) * elapsed / args.renew
    print(
        f"{len(zones)} zones, renewal every {args.renew:g}s, {elapsed:.0f}s: "
        f"~{renewals:.0f} renewals; engine CPU {engine_cpu * 1000:.0f} ms "
        f"({engine_cpu * 1000 / renewals:.2f} ms per renewal), nats-server CPU "
        f"{nats_cpu * 1000:.0f} ms ({nats_cpu * 1000 / renewals:.2f} ms per renewal); "
        f"load average {load_before} -> {load_average()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
