"""/api/admin/accounts/{name}/zones: admins grant, list and revoke the zones a builder may
build in; everyone else is refused with 403; a grant is in force in the game at once."""

from __future__ import annotations

import uuid

import httpx2
from kadath_web import User, WebApp, register


async def _builder(client: httpx2.AsyncClient, admin: User) -> User:
    user = await register(client)
    made = await client.put(
        f"/api/admin/accounts/{user.username}/role", json={"role": "builder"}, headers=admin.headers
    )
    assert made.status_code == 200, made.text
    return user


async def test_an_admin_grants_lists_and_revokes_a_zone(web: WebApp, admin: User) -> None:
    client = web.client
    mason = await _builder(client, admin)
    zones = f"/api/admin/accounts/{mason.username}/zones"
    assert (await client.get(zones, headers=admin.headers)).json() == []
    granted = await client.put(f"{zones}/arkham", headers=admin.headers)
    assert granted.status_code == 200, granted.text
    assert "may now build in" in granted.json()["text"]
    listed = (await client.get(zones, headers=admin.headers)).json()
    assert [g["zone_id"] for g in listed] == ["arkham"]
    assert listed[0]["granted_by"] == admin.username
    book = web.runtime.game.grants
    account_id = listed[0]["account_id"]
    assert book.has(uuid.UUID(account_id), "arkham")
    again = await client.put(f"{zones}/arkham", headers=admin.headers)
    assert again.status_code == 200 and "already" in again.json()["text"]
    audit = await client.get(
        "/api/admin/audit", params={"target": mason.username}, headers=admin.headers
    )
    assert [e["action"] for e in audit.json()][:1] == ["grant"]
    revoked = await client.delete(f"{zones}/arkham", headers=admin.headers)
    assert revoked.status_code == 200, revoked.text
    assert not book.has(uuid.UUID(account_id), "arkham")
    assert (await client.get(zones, headers=admin.headers)).json() == []
    gone = await client.delete(f"{zones}/arkham", headers=admin.headers)
    assert gone.status_code == 404


async def test_unknown_zones_and_accounts_are_404(web: WebApp, admin: User) -> None:
    mason = await _builder(web.client, admin)
    nowhere = await web.client.put(
        f"/api/admin/accounts/{mason.username}/zones/leng", headers=admin.headers
    )
    assert nowhere.status_code == 404 and "no zone" in nowhere.json()["detail"]
    nobody = await web.client.put(
        "/api/admin/accounts/nobodyatall/zones/arkham", headers=admin.headers
    )
    assert nobody.status_code == 404


async def test_only_admins_grant_zones(web: WebApp, admin: User) -> None:
    client = web.client
    mason = await _builder(client, admin)
    moderator = await register(client)
    await client.put(
        f"/api/admin/accounts/{moderator.username}/role",
        json={"role": "moderator"},
        headers=admin.headers,
    )
    zones = f"/api/admin/accounts/{mason.username}/zones"
    for user in (mason, moderator):
        for method in ("GET", "PUT", "DELETE"):
            path = zones if method == "GET" else f"{zones}/arkham"
            refused = await client.request(method, path, headers=user.headers)
            assert refused.status_code == 403, (method, refused.text)
    assert (await client.get(zones, headers=admin.headers)).json() == []
