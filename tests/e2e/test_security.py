"""Who may play what, over the WebSocket of a real server (REST rules: tests/web)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from kadath_e2e import (
    Api,
    Connect,
    GameClient,
    NewCharacter,
    RunningServer,
    StartServer,
    bearer,
    events,
    new_account,
    new_character,
)

SECRET = "an-end-to-end-signing-secret-long-enough-0123456789"


async def refused(server: RunningServer, hello: dict[str, object]) -> tuple[dict[str, object], int]:
    """Send ``hello`` on a new connection; the error frame and the close code that follow."""
    client = await GameClient.open(server.ws_url)
    await client.send_json(hello)
    error = await client.wait_type("error")
    code, _ = await client.wait_closed()
    assert not [f for f in client.received if f["type"] in ("welcome", "room")]
    assert code is not None
    return error, code


@pytest.mark.parametrize(
    ("hello", "error_code"),
    [
        ({"type": "hello", "player": "Someone"}, "bad_frame"),
        ({"type": "hello", "token": None, "player": "Someone"}, "bad_frame"),
        ({"type": "hello", "token": "", "player": "Someone"}, "auth_failed"),
        ({"type": "hello", "token": "not.a.token", "player": "Someone"}, "auth_failed"),
        ({"type": "hello", "token": "garbage", "player": ""}, "bad_frame"),
    ],
    ids=["no-token", "null-token", "empty-token", "bad-token", "no-player"],
)
async def test_a_hello_without_a_good_token_is_refused_with_4401(
    server: RunningServer, hello: dict[str, object], error_code: str
) -> None:
    error, code = await refused(server, hello)
    assert error["code"] == error_code
    assert code == 4401


async def test_a_hello_with_an_expired_token_is_refused_and_a_fresh_one_is_welcome(
    start_server: StartServer,
) -> None:
    server = await start_server(secret_key=SECRET)
    api = Api.to(server.base_url)
    try:
        await new_account(api, "keeper")
        hero = await new_character(api)
        me = (await api.http.get("/api/auth/me", headers=bearer(hero.token))).json()
    finally:
        await api.aclose()
    now = datetime.now(UTC)

    def signed(exp: datetime, secret: str = SECRET) -> str:
        claims = {"sub": me["id"], "iat": now, "exp": exp}
        return jwt.encode(claims, secret, algorithm="HS256")

    expired = signed(now - timedelta(seconds=5))
    error, code = await refused(server, {"type": "hello", "token": expired, "player": hero.name})
    assert error["code"] == "auth_failed"
    assert "expired" in str(error["text"])
    assert code == 4401

    forged = signed(now + timedelta(minutes=5), secret="someone-elses-secret-" * 3)
    _, code = await refused(server, {"type": "hello", "token": forged, "player": hero.name})
    assert code == 4401

    client = await GameClient.open(server.ws_url)
    try:
        welcome = await client.hello(signed(now + timedelta(minutes=5)), hero.name)
        assert welcome["player"]["name"] == hero.name
    finally:
        await client.close()


async def test_nobody_plays_another_accounts_character(
    server: RunningServer, connect: Connect, new_character: NewCharacter
) -> None:
    owner = await new_character()
    thief = await new_character()
    playing = await connect(owner)

    error, code = await refused(
        server, {"type": "hello", "token": thief.token, "player": owner.name}
    )

    assert error["code"] == "auth_failed"
    assert error["text"] == "That character is not yours."
    assert code == 4401
    # the owner's session is untouched: not kicked, still answering
    assert (await playing.command("look"))["ok"]
    assert events(await playing.sync(), "kicked") == []


async def test_a_hello_for_a_character_that_does_not_exist_is_refused(
    server: RunningServer, new_character: NewCharacter
) -> None:
    hero = await new_character()
    error, code = await refused(server, {"type": "hello", "token": hero.token, "player": "Nyarla"})
    assert error["code"] == "auth_failed"
    assert code == 4401


async def test_a_hello_naming_a_character_with_a_nul_byte_is_refused_as_unknown(
    server: RunningServer, new_character: NewCharacter
) -> None:
    hero = await new_character()
    hello = {"type": "hello", "token": hero.token, "player": "Bad\x00Name"}
    error, code = await refused(server, hello)
    assert error["code"] == "auth_failed"
    assert code == 4401


async def test_a_character_in_play_cannot_be_deleted(
    server: RunningServer, api: Api, connect: Connect, new_character: NewCharacter
) -> None:
    hero = await new_character()
    client = await connect(hero)
    url = f"/api/players/{hero.id}"

    busy = await api.http.delete(url, headers=bearer(hero.token))
    assert busy.status_code == 409
    assert busy.json()["detail"] == "That character is in the world; quit first."

    await client.command("quit")
    await client.wait_closed()
    for _ in range(100):  # leaving the world happens just after the quit reply
        gone = await api.http.delete(url, headers=bearer(hero.token))
        if gone.status_code != 409:
            break
        await asyncio.sleep(0.02)
    assert gone.status_code == 204
    assert (await api.http.get(url, headers=bearer(hero.token))).status_code == 404


async def test_a_container_shows_its_contents_only_once_the_character_walks_to_it(
    server: RunningServer, api: Api, connect: Connect, new_character: NewCharacter
) -> None:
    runtime = server.app.state.runtime
    async with runtime.persistence.unit_of_work() as uow:
        boxes = await uow.containers.get_containers_in_room("arkham.boarding_house_cellar")
    chest = boxes[0].id
    hero = await new_character()
    client = await connect(hero)
    url = f"/api/containers/{chest}?player_id={hero.id}"

    assert (await api.http.get(url, headers=bearer(hero.token))).status_code == 403
    await client.command("down")  # into the cellar, where the sea chest is
    there = await api.http.get(url, headers=bearer(hero.token))
    assert there.status_code == 200
    assert there.json()["name"]
    await client.command("up")
    assert (await api.http.get(url, headers=bearer(hero.token))).status_code == 403
