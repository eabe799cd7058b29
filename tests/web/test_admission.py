"""Admission control: a registration flood (from one address or many) does not starve logins,
and one address cannot register without limit.

A login's delay is judged by order, not by the clock: the registration hashes that finish
while the login waits are counted (the pool runs one hash at a time here), and they must be
no more than the few a registration may hold in flight, however many registrations came."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
from kadath_web import PASSWORD, StartApp, WebApp, register, unique_name

from kadath.settings import Settings

FLOOD = 60
# argon2 costly enough (~50-150 ms a hash here) that sixty queued hashes take seconds
COSTLY = {"argon2_time_cost": 2, "argon2_memory_cost": 32768, "password_hash_threads": 1}
REGISTRATIONS_IN_FLIGHT = 1 + 16 // 4  # threads + queue // 4 (PasswordHasher's defaults here)


@contextlib.asynccontextmanager
async def clients_from(web: WebApp, count: int) -> AsyncIterator[list[httpx2.AsyncClient]]:
    """``count`` clients, each from an address of its own."""
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for n in range(count):
            transport = httpx2.ASGITransport(app=web.app, client=(f"10.0.{n // 250}.{n % 250}", 1))
            client = httpx2.AsyncClient(transport=transport, base_url="http://kadath.test")
            clients.append(await stack.enter_async_context(client))
        yield clients


def _sign_up(client: httpx2.AsyncClient) -> asyncio.Task[httpx2.Response]:
    body = {"username": unique_name("f"), "password": PASSWORD}
    return asyncio.ensure_future(client.post("/api/auth/register", json=body))


class HashCounter:
    """Counts the registration hashes the pool finishes (a wrapper around pwdlib's hash)."""

    def __init__(self) -> None:
        self.finished = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def counting(self, web: WebApp) -> Iterator[None]:
        hashing = web.runtime.auth._hasher._hasher()  # pwdlib, built on first use
        original = hashing.hash

        def counted(*args: Any, **kwargs: Any) -> Any:
            hashed = original(*args, **kwargs)
            with self._lock:
                self.finished += 1
            return hashed

        hashing.hash = counted
        try:
            yield
        finally:
            hashing.hash = original


async def _login_behind(client: httpx2.AsyncClient, counter: HashCounter) -> int:
    """Log in; how many registration hashes finished while the login waited."""
    before = counter.finished
    response = await client.post(
        "/api/auth/login", data={"username": "keeper", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return counter.finished - before


async def test_a_registration_flood_from_one_address_does_not_delay_a_login(
    start_app: StartApp,
) -> None:
    default = Settings.model_fields["registration_rate_limit"].default
    web = await start_app(registration_rate_limit=default, **COSTLY)
    await register(web.client, "keeper")
    counter = HashCounter()
    with counter.counting(web):
        async with clients_from(web, 1) as (flooder,):
            flood = [_sign_up(flooder) for _ in range(FLOOD)]
            await asyncio.sleep(0.05)  # the flood is in: its hashes would be queued now
            behind = await _login_behind(web.client, counter)
            statuses = [r.status_code for r in await asyncio.gather(*flood)]
    print(f"registration hashes finished while the login waited: {behind}")
    assert behind <= REGISTRATIONS_IN_FLIGHT, f"the login waited behind {behind} hashes"
    assert set(statuses) <= {201, 429}, statuses
    assert statuses.count(201) <= 5 and statuses.count(429) >= FLOOD - 5


async def test_a_registration_flood_from_many_addresses_does_not_delay_a_login(
    start_app: StartApp,
) -> None:
    web = await start_app(**COSTLY)
    await register(web.client, "keeper")
    counter = HashCounter()
    with counter.counting(web):
        async with clients_from(web, FLOOD) as flooders:
            flood = [_sign_up(client) for client in flooders]
            await asyncio.sleep(0.05)
            behind = await _login_behind(web.client, counter)
            responses = await asyncio.gather(*flood)
    print(f"registration hashes finished while the login waited: {behind}")
    assert behind <= REGISTRATIONS_IN_FLIGHT, f"the login waited behind {behind} hashes"
    busy = [r for r in responses if r.status_code != 201]
    assert busy, "every registration was hashed at once?"
    for response in busy:
        assert response.status_code in (429, 503), response.text
        assert "retry-after" in response.headers
        assert "try again" in response.json()["detail"]
