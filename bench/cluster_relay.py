"""What relaying a player through a NATS tunnel costs (``kadath serve --cluster``): command
round trips and CPU per command, a client served by the process it is connected to vs one
relayed to the zone's holder by another process.

Starts a private ``nats-server -js`` on a free port, a fresh PostgreSQL database on the server
named by ``--postgres`` (default: KADATH_TEST_POSTGRES_URL's server), and two ``kadath serve
--cluster`` processes as the tests do (beta holds the start zone, alpha the others). One
character, in beta's zone, sends ``--commands`` commands one at a time (each after the last
one's reply): first connected to beta (served there), then to alpha (relayed to beta). The
round trips' median and 95th percentile, and the CPU each process spent per command (from
/proc), are printed for both.

    python3 -m uv run --frozen python bench/cluster_relay.py --commands 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "cluster"))

from kadath_cluster import (  # type: ignore[import-not-found]
    ServeProcess,
    migrated_database,
    private_nats,
)
from kadath_serve import Client, new_character, starting_cluster  # type: ignore[import-not-found]

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def round_trips(url: str, token: str, name: str, commands: int, text: str) -> list[float]:
    client = await Client.open(url)
    try:
        welcome = await client.hello(token, name)
        assert welcome["type"] == "welcome", welcome
        for _ in range(20):  # warm-up
            await client.command(text)
        times = []
        for _ in range(commands):
            started = time.perf_counter()
            reply = await client.command(text)
            times.append(time.perf_counter() - started)
            assert reply["ok"] is True, reply
        return times
    finally:
        await client.ws.close()


def quantile(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100)[int(q * 100) - 1]


def report(label: str, text: str, times: list[float]) -> None:
    median, p95 = statistics.median(times) * 1000, quantile(times, 0.95) * 1000
    print(f"{label:18} {text!r}: median {median:.2f} ms, p95 {p95:.2f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--text", default="look", help="the command each round trip sends")
    parser.add_argument("--postgres", default=os.environ.get("KADATH_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.postgres:
        sys.exit("set --postgres or KADATH_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with migrated_database(args.postgres) as url:
            print(f"load average {os.getloadavg()}")
            token, name = await clustered(url, root, args.commands, args.text)
            # The same database and character, served by a plain ``kadath serve``.
            plain = ServeProcess("plain", url, "nats://127.0.0.1:1", root)  # NATS unused
            plain.command = ["serve"]
            plain.env.update(KADATH_COMMAND_RATE="1000/second")
            await plain.start()
            try:
                before = cpu_seconds(plain.process.pid)
                times = await round_trips(plain.ws_url, token, name, args.commands, args.text)
                report("plain kadath serve", args.text, times)
                cost = (cpu_seconds(plain.process.pid) - before) / len(times) * 1000
                print(f"{'':18} CPU per command: serve {cost:.2f} ms")
            finally:
                await plain.close()


async def clustered(url: str, root: Path, commands: int, text: str) -> tuple[str, str]:
    """The cluster's two runs; the character's (token, name)."""
    async with (
        private_nats(root) as nats,
        starting_cluster(url, nats.url, root, KADATH_COMMAND_RATE="1000/second") as cluster,
    ):
        token, name = await new_character(cluster.http)
        pids = {"alpha": cluster.alpha.process.pid, "beta": cluster.beta.process.pid}
        pids["nats"] = nats.pid
        for label, target in (
            ("direct (on beta)", cluster.beta),
            ("relayed (alpha)", cluster.alpha),
        ):
            before = {k: cpu_seconds(p) for k, p in pids.items()}
            times = await round_trips(target.ws_url, token, name, commands, text)
            cpu = {k: (cpu_seconds(p) - before[k]) / len(times) * 1000 for k, p in pids.items()}
            report(label, text, times)
            costs = ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items())
            print(f"{'':18} CPU per command: {costs}")
            await asyncio.sleep(1.0)  # the session's reconnect grace
        return token, name


if __name__ == "__main__":
    asyncio.run(main())
