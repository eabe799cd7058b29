"""What operators read: /metrics and the admins' stats include the game loop's figures."""

from __future__ import annotations

import httpx2
from kadath_web import User


async def test_metrics_export_the_game_and_its_loop_on_every_scrape(
    client: httpx2.AsyncClient,
) -> None:
    for _ in range(2):  # the first scrape builds the registry, the next reuses it
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "kadath_players_online" in response.text
        assert "kadath_ticks_total" in response.text


async def test_the_admins_stats_carry_the_tick_figures(
    client: httpx2.AsyncClient, admin: User
) -> None:
    stats = (await client.get("/api/monitoring/stats", headers=admin.headers)).json()
    assert {"ticks", "tick_overruns", "tick_p99_ms"} <= set(stats["extra"])
