"""What relaying a player through a NATS tunnel costs (``kadath serve --cluster``): command
round trips and CPU per command, a client served by the process it is connected to vs one
relayed to the zone's holder by another process.

Starts a private ``nats-server -js`` on a free port, a fresh PostgreSQL database on the server
named by ``--postgres`` (default: KADATH_TEST_POSTGRES_URL's server), and two ``kadath serve
--cluster`` processes (bench/cluster_parts.py's nodes; beta holds the start zone, alpha the
others, pinned). One
character, in beta's zone, sends ``--commands`` commands one at a time (each after the last
one's reply): first connected to beta (served there), then to alpha (relayed to beta). The
round trips' median and 95th percentile, and the CPU each process spent per command (from
/proc), are printed for both.

    python3 -m uv run --frozen python bench/cluster_relay.py --commands 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from websockets.asyncio.client import ClientConnection, connect

from cluster import ZONES, Role, Setup, start_nodes
from cluster_parts import Node, migrated_database, private_nats
from kadath.world import DEFAULT_WORLD_DIR, load_world
from load import setup_players

WORLD = load_world(DEFAULT_WORLD_DIR)
START_ZONE = WORLD.rooms[WORLD.start_room_id].zone_id
WAIT = 15.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def command(ws: ClientConnection, frame_id: str, text: str) -> dict[str, Any]:
    """Send one command; its reply (other frames are read and dropped)."""
    await ws.send(json.dumps({"type": "command", "id": frame_id, "text": text}))
    async with asyncio.timeout(WAIT):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("type") == "reply" and frame.get("re") == frame_id:
                return frame


async def round_trips(url: str, token: str, name: str, commands: int, text: str) -> list[float]:
    ws = await connect(url, proxy=None, open_timeout=WAIT, close_timeout=2)
    try:
        await ws.send(json.dumps({"type": "hello", "token": token, "player": name}))
        async with asyncio.timeout(WAIT):
            while (welcome := json.loads(await ws.recv())).get("type") not in ("welcome", "error"):
                pass
        assert welcome["type"] == "welcome", welcome
        for i in range(20):  # warm-up
            await command(ws, f"w{i}", text)
        times = []
        for i in range(commands):
            started = time.perf_counter()
            reply = await command(ws, f"c{i}", text)
            times.append(time.perf_counter() - started)
            assert reply["ok"] is True, reply
        return times
    finally:
        await ws.close()


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
            plain = Node("plain", url, None, root)
            await plain.start()
            try:
                before = cpu_seconds(plain.pid)
                times = await round_trips(plain.ws_url, token, name, args.commands, args.text)
                report("plain kadath serve", args.text, times)
                cost = (cpu_seconds(plain.pid) - before) / len(times) * 1000
                print(f"{'':18} CPU per command: serve {cost:.2f} ms")
            finally:
                await plain.stop()


async def clustered(url: str, root: Path, commands: int, text: str) -> tuple[str, str]:
    """The cluster's two runs; the character's (token, name)."""
    async with private_nats(root) as nats:
        setup = Setup(argparse.Namespace(profile=[]), url, "", nats, root)
        others = tuple(z for z in ZONES if z != START_ZONE)
        roles = [Role("alpha", others, True), Role("beta", (START_ZONE,), True)]
        alpha, beta = nodes = await start_nodes(setup, "relay", roles)
        try:
            async with httpx2.AsyncClient(base_url=alpha.base_url, trust_env=False) as http:
                [(token, name)], _ = await setup_players(http, 1, 1, 1, "relay")
            pids = {"alpha": alpha.pid, "beta": beta.pid, "nats": nats.pid}
            for label, target in (("direct (on beta)", beta), ("relayed (alpha)", alpha)):
                before = {k: cpu_seconds(p) for k, p in pids.items()}
                times = await round_trips(target.ws_url, token, name, commands, text)
                cpu = {k: (cpu_seconds(p) - before[k]) / len(times) * 1000 for k, p in pids.items()}
                report(label, text, times)
                costs = ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items())
                print(f"{'':18} CPU per command: {costs}")
                await asyncio.sleep(1.0)  # the session's reconnect grace
        finally:
            for node in nodes:
                await node.stop()
        return token, name


if __name__ == "__main__":
    asyncio.run(main())
