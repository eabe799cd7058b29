"""Who may do what over REST: tokens, ownership, admin routes, registration rules, limits."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import jwt
import pytest
from kadath_web import (
    PASSWORD,
    SECRET,
    StartApp,
    User,
    WebApp,
    create_character,
    register,
    unique_name,
)

CELLAR = "arkham.boarding_house_cellar"
ANY_ID = "00000000-0000-4000-8000-000000000000"


def token_for(account_id: str, *, expires_in: timedelta, secret: str = SECRET) -> str:
    now = datetime.now(UTC)
    claims = {"sub": account_id, "iat": now, "exp": now + expires_in}
    return jwt.encode(claims, secret, algorithm="HS256")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/auth/me", None),
    ("GET", "/api/auth/invites", None),
    ("POST", "/api/auth/invites", None),
    ("GET", "/api/players", None),
    ("POST", "/api/players", {"name": "Nobody", "profession_id": 1}),
    ("GET", f"/api/players/{ANY_ID}", None),
    ("DELETE", f"/api/players/{ANY_ID}", None),
    ("GET", "/api/rooms", None),
    ("GET", "/api/rooms/arkham.boarding_house", None),
    ("GET", f"/api/containers/{ANY_ID}?player_id={ANY_ID}", None),
    ("GET", "/api/monitoring/stats", None),
]


async def answers(
    client: httpx2.AsyncClient, headers: dict[str, str] | None = None
) -> dict[str, int]:
    out = {}
    for method, url, body in PROTECTED:
        response = await client.request(method, url, json=body, headers=headers)
        out[f"{method} {url}"] = response.status_code
        if response.status_code == 401:
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["detail"]
    return out


# -- tokens ------------------------------------------------------------------------------------


async def test_every_protected_route_refuses_a_request_without_a_token(
    client: httpx2.AsyncClient, admin: User
) -> None:
    assert set((await answers(client)).values()) == {401}


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "",
        "a.b.c",
        token_for(ANY_ID, expires_in=timedelta(hours=1), secret="another-secret-" * 4),
        jwt.encode({"sub": ANY_ID}, SECRET, algorithm="HS256"),  # never expires: refused
        jwt.encode({"exp": 4102444800}, SECRET, algorithm="HS256"),  # speaks for nobody
        jwt.encode({"sub": "not-a-uuid", "exp": 4102444800}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": ANY_ID, "exp": 4102444800}, SECRET, algorithm="HS384"),
        jwt.encode({"sub": ANY_ID, "exp": 4102444800}, None, algorithm="none"),
    ],
    ids=[
        "garbage",
        "empty",
        "three-dots",
        "other-secret",
        "no-exp",
        "no-sub",
        "bad-sub",
        "hs384",
        "alg-none",
    ],
)
async def test_every_protected_route_refuses_a_bad_token(
    client: httpx2.AsyncClient, admin: User, token: str
) -> None:
    assert set((await answers(client, auth(token))).values()) == {401}


async def test_an_expired_token_is_refused_and_a_fresh_one_with_the_same_secret_is_not(
    client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    expired = token_for(user.id, expires_in=timedelta(seconds=-5))
    fresh = token_for(user.id, expires_in=timedelta(minutes=5))

    refused = await client.get("/api/auth/me", headers=auth(expired))
    accepted = await client.get("/api/auth/me", headers=auth(fresh))

    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    assert accepted.status_code == 200
    assert accepted.json()["username"] == user.username


async def test_a_token_for_an_account_that_does_not_exist_is_refused(
    client: httpx2.AsyncClient, admin: User
) -> None:
    ghost = token_for(str(uuid.uuid4()), expires_in=timedelta(minutes=5))
    response = await client.get("/api/players", headers=auth(ghost))
    assert response.status_code == 401


# -- ownership ---------------------------------------------------------------------------------


async def test_nobody_reads_or_deletes_another_accounts_character(
    client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    thief = await register(client)
    mine = await create_character(client, user)
    url = f"/api/players/{mine['id']}"

    assert (await client.get(url, headers=thief.headers)).status_code == 403
    assert (await client.delete(url, headers=thief.headers)).status_code == 403
    listed = (await client.get("/api/players", headers=thief.headers)).json()
    assert listed == []
    # still there, and still the owner's
    assert (await client.get(url, headers=user.headers)).json()["name"] == mine["name"]
    # an admin may look
    assert (await client.get(url, headers=admin.headers)).status_code == 200


async def test_an_unknown_character_is_not_found(client: httpx2.AsyncClient, user: User) -> None:
    response = await client.get(f"/api/players/{uuid.uuid4()}", headers=user.headers)
    assert response.status_code == 404


async def test_admin_routes_refuse_ordinary_accounts(
    client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    for method, url in [
        ("POST", "/api/auth/invites"),
        ("GET", "/api/auth/invites"),
        ("GET", "/api/monitoring/stats"),
    ]:
        refused = await client.request(method, url, headers=user.headers)
        assert refused.status_code == 403, (method, url)
        allowed = await client.request(method, url, headers=admin.headers)
        assert allowed.status_code in (200, 201), (method, url, allowed.text)


async def test_only_admins_see_every_accounts_characters(
    client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    other = await register(client)
    theirs = await create_character(client, other)
    mine = await create_character(client, user)

    seen = await client.get("/api/players?all=true", headers=user.headers)
    assert [p["id"] for p in seen.json()] == [mine["id"]]
    everyone = await client.get("/api/players?all=true", headers=admin.headers)
    assert {theirs["id"], mine["id"]} <= {p["id"] for p in everyone.json()}


# -- registration ------------------------------------------------------------------------------


async def test_the_first_account_is_an_admin_and_later_ones_are_not(
    client: httpx2.AsyncClient,
) -> None:
    first, second, third = await register(client), await register(client), await register(client)
    assert [first.is_admin, second.is_admin, third.is_admin] == [True, False, False]
    me = await client.get("/api/auth/me", headers=second.headers)
    assert me.json() == {
        "id": second.id,
        "username": second.username,
        "is_admin": False,
        "role": "player",
    }


async def test_two_first_registrations_at_once_make_only_one_admin(
    client: httpx2.AsyncClient,
) -> None:

    async def sign_up(username: str) -> httpx2.Response:
        return await client.post(
            "/api/auth/register", json={"username": username, "password": PASSWORD}
        )

    responses = await asyncio.gather(*(sign_up(unique_name("u")) for _ in range(8)))

    created = [r.json() for r in responses if r.status_code == 201]
    # 503: the database was busy; 429: too many passwords were waiting to be hashed
    assert all(r.status_code in (201, 429, 503) for r in responses), [r.text for r in responses]
    assert sum(a["is_admin"] for a in created) == 1


async def test_usernames_are_unique_regardless_of_case(
    client: httpx2.AsyncClient, admin: User
) -> None:
    await register(client, "Randolph")
    for name in ("Randolph", "randolph", "RANDOLPH"):
        response = await client.post(
            "/api/auth/register", json={"username": name, "password": PASSWORD}
        )
        assert response.status_code == 409, name
        assert response.json()["detail"] == "That username is taken."


async def test_character_names_are_unique_regardless_of_case_and_account(
    client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    other = await register(client)
    await create_character(client, user, "Carter")
    professions = (await client.get("/api/professions")).json()
    for owner, name in [(user, "Carter"), (other, "carter"), (other, "CARTER")]:
        response = await client.post(
            "/api/players",
            json={"name": name, "profession_id": professions[0]["id"]},
            headers=owner.headers,
        )
        assert response.status_code == 409, (name, response.text)


async def test_registration_by_invite_needs_an_unused_code(start_app: StartApp) -> None:
    web = await start_app(registration="invite")
    client = web.client
    keeper = await register(client, "keeper")  # the first account needs no invite
    assert keeper.is_admin

    def attempt(username: str, code: str | None) -> Any:
        body = {"username": username, "password": PASSWORD, "invite_code": code}
        return client.post("/api/auth/register", json=body)

    assert (await attempt("nocode", None)).status_code == 403
    assert (await attempt("badcode", "not-a-real-code")).status_code == 403
    invite = (await client.post("/api/auth/invites", headers=keeper.headers)).json()
    assert invite["used"] is False

    assert (await attempt("badcode", invite["code"])).status_code == 201  # nothing half-written
    assert (await attempt("latecomer", invite["code"])).status_code == 403  # spent
    listed = (await client.get("/api/auth/invites", headers=keeper.headers)).json()
    assert [(i["code"], i["used"]) for i in listed] == [(invite["code"], True)]
    refused = await client.post(
        "/api/auth/login", data={"username": "latecomer", "password": PASSWORD}
    )
    assert refused.status_code == 401


async def test_the_login_rate_limit_answers_429(start_app: StartApp) -> None:
    web = await start_app(login_rate_limit="3/minute")
    client = web.client
    await register(client, "keeper")  # one successful login spent

    def login(password: str) -> Any:
        return client.post("/api/auth/login", data={"username": "keeper", "password": password})

    assert [(await login("wrong password")).status_code for _ in range(2)] == [401, 401]
    limited = await login(PASSWORD)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "60"
    assert "Too many login attempts" in limited.json()["detail"]


async def test_the_login_rate_limit_counts_per_address_across_accounts(
    start_app: StartApp,
) -> None:
    web = await start_app(login_rate_limit="2/minute")  # 2 per account, 6 per address
    client = web.client
    statuses = []
    for n in range(8):
        response = await client.post(
            "/api/auth/login", data={"username": f"nobody{n}", "password": "wrong password"}
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 6 + [429] * 2


# -- containers --------------------------------------------------------------------------------


async def _cellar_chest(web: WebApp) -> str:
    async with web.runtime.persistence.unit_of_work() as uow:
        boxes = await uow.containers.get_containers_in_room(CELLAR)
    assert boxes, "the starter world has a sea chest in the cellar"
    return str(boxes[0].id)


async def _stand(web: WebApp, player_id: str, room_id: str) -> None:
    async with web.runtime.persistence.unit_of_work() as uow:
        await uow.players.save_positions([(uuid.UUID(player_id), room_id)])


async def test_a_container_is_shown_only_to_a_character_standing_by_it(
    web: WebApp, client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    chest = await _cellar_chest(web)
    hero = await create_character(client, user)
    url = f"/api/containers/{chest}?player_id={hero['id']}"

    away = await client.get(url, headers=user.headers)
    assert away.status_code == 403
    assert away.json()["detail"] == "Your character is not where that container is."

    await _stand(web, hero["id"], CELLAR)
    there = await client.get(url, headers=user.headers)
    assert there.status_code == 200, there.text
    assert there.json()["room_id"] == CELLAR
    assert there.json()["locked"] is True
    assert there.json()["items"] == []  # locked: contents hidden


async def test_a_container_is_not_shown_through_someone_elses_character(
    web: WebApp, client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    chest = await _cellar_chest(web)
    victim = await create_character(client, await register(client))
    await _stand(web, victim["id"], CELLAR)

    response = await client.get(
        f"/api/containers/{chest}?player_id={victim['id']}", headers=user.headers
    )
    assert response.status_code == 403


async def test_an_unknown_container_is_not_found(
    client: httpx2.AsyncClient, admin: User, user: User
) -> None:
    hero = await create_character(client, user)
    response = await client.get(
        f"/api/containers/{uuid.uuid4()}?player_id={hero['id']}", headers=user.headers
    )
    assert response.status_code == 404


# -- text the database cannot store ------------------------------------------------------------


async def test_a_login_with_a_nul_byte_in_the_username_is_just_wrong_credentials(
    client: httpx2.AsyncClient, admin: User
) -> None:
    # PostgreSQL refuses NUL bytes in text: the name must be refused before it gets there
    response = await client.post(
        "/api/auth/login", data={"username": "keep\x00er", "password": PASSWORD}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username or password."


async def test_a_malformed_invite_code_is_refused_without_database_details(
    client: httpx2.AsyncClient, admin: User
) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"username": "nulinvite", "password": PASSWORD, "invite_code": "a\x00b"},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "That invite code is unknown or already used."
    retry = await client.post(
        "/api/auth/register", json={"username": "nulinvite", "password": PASSWORD}
    )
    assert retry.status_code == 201  # the refused attempt left no account behind
