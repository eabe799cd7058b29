"""Names over the REST API: an impostor with an invisible difference is refused."""

from __future__ import annotations

import httpx2
import pytest
from kadath_web import PASSWORD, User, create_character, register


@pytest.mark.parametrize(
    "impostor", ["Carter\n", "Carter\u200b", "\u202eCarter", "\u0421arter", "Carter\r\n"]
)
async def test_an_impostor_of_an_existing_character_name_is_refused(
    client: httpx2.AsyncClient, admin: User, user: User, impostor: str
) -> None:
    await create_character(client, user, "Carter")
    other = await register(client)
    professions = (await client.get("/api/professions")).json()
    response = await client.post(
        "/api/players",
        json={"name": impostor, "profession_id": professions[0]["id"]},
        headers=other.headers,
    )
    assert response.status_code == 422, response.text
    listed = (await client.get("/api/players", headers=other.headers)).json()
    assert listed == []


@pytest.mark.parametrize("username", ["warden\n", "war\u200bden", "wardén"])
async def test_a_username_with_a_newline_or_invisible_character_is_refused(
    client: httpx2.AsyncClient, username: str
) -> None:
    response = await client.post(
        "/api/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 422, response.text
