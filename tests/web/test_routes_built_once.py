"""The REST routes' validators are built once, when the app is made: FastAPI's included
routers would build every route's request and response models again at the first request
(~160 pydantic ``TypeAdapter``s, ~2 MiB that stay)."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx2
from pydantic import TypeAdapter

from kadath.bootstrap import create_app
from kadath.settings import Settings


def adapters() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, TypeAdapter))


async def test_the_first_request_builds_no_route_again(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, data_dir=tmp_path))
    built = adapters()
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://kadath") as http:
        # No lifespan: a route that needs no runtime, past every router before monitoring.
        response = await http.get("/api/monitoring/health")
    assert response.status_code in (200, 503)
    assert adapters() == built
