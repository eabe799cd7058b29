"""Prometheus metrics, read from the running game at scrape time (one registry per app).

Every figure is counted by the game itself and read when scraped, so prometheus_client is
imported only by the first scrape (on a worker thread: ``load_prometheus``), and nothing
counted before it is lost."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from kadath.web.runtime import Runtime


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 of latencies in seconds, as milliseconds."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99)}


async def load_prometheus() -> None:
    """Import prometheus_client on a worker thread the first time, so the loop never waits."""
    if "prometheus_client" not in sys.modules:
        await asyncio.to_thread(importlib.import_module, "prometheus_client")


class GameCollector:
    """A prometheus_client collector (it needs only ``collect``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        rt = self._runtime
        yield GaugeMetricFamily(
            "kadath_players_online", "Characters in the world", len(rt.game.presence)
        )
        yield GaugeMetricFamily("kadath_connections", "Open game connections", rt.hub.connected)
        yield GaugeMetricFamily(
            "kadath_telnet_connections",
            "Open telnet connections, signed in or not",
            rt.telnet_connections(),
        )
        yield GaugeMetricFamily("kadath_npcs", "NPCs alive", len(rt.game.npcs))
        yield CounterMetricFamily("kadath_commands", "Commands handled", rt.dispatcher.handled)
        latency = GaugeMetricFamily(
            "kadath_command_latency_ms", "Recent command latency", labels=["quantile"]
        )
        for q, value in percentiles(rt.dispatcher.latencies).items():
            latency.add_metric([q], value)
        yield latency
        availability = rt.persistence.availability
        yield GaugeMetricFamily(
            "kadath_database_up",
            "1 while the database answers, 0 during an outage",
            int(availability.up),
        )
        yield CounterMetricFamily(
            "kadath_database_outages", "Database outages since start-up", availability.outages
        )
        pool = GaugeMetricFamily("kadath_db_pool", "Database pool", labels=["state"])
        for state, value in rt.persistence.pool_status().items():
            pool.add_metric([state], value)
        yield pool
        reloads = CounterMetricFamily(
            "kadath_world_reloads", "World reloads since start-up", labels=["result"]
        )
        for result in ("ok", "refused"):
            reloads.add_metric([result], rt.reloader.results[result])
        yield reloads
        yield from rt.loop.metrics()


def render_metrics(runtime: Runtime) -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = runtime.registry
    if registry is None:
        registry = CollectorRegistry()
        registry.register(GameCollector(runtime))
        runtime.registry = registry
    return generate_latest(registry), CONTENT_TYPE_LATEST
