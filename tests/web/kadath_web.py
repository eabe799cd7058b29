"""In-process REST helpers: an app under test, accounts and characters made over the API."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from fastapi import FastAPI

from kadath.settings import Settings

PASSWORD = "correct horse battery"
SECRET = "a-test-signing-secret-that-is-long-enough-0123456789"


@dataclass
class WebApp:
    app: FastAPI
    client: httpx2.AsyncClient
    settings: Settings

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


StartApp = Callable[..., Awaitable[WebApp]]


@dataclass(frozen=True)
class User:
    username: str
    token: str
    id: str
    is_admin: bool

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique_name(prefix: str = "T") -> str:
    letters = "".join(chr(97 + b % 26) for b in uuid.uuid4().bytes[:9])
    return prefix + letters


async def register(client: httpx2.AsyncClient, username: str | None = None, **extra: Any) -> User:
    username = username or unique_name("u")
    created = await client.post(
        "/api/auth/register", json={"username": username, "password": PASSWORD, **extra}
    )
    assert created.status_code == 201, created.text
    login = await client.post("/api/auth/login", data={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = created.json()
    return User(username, login.json()["access_token"], body["id"], body["is_admin"])


async def create_character(
    client: httpx2.AsyncClient, user: User, name: str | None = None
) -> dict[str, Any]:
    professions = (await client.get("/api/professions")).json()
    easiest = min(professions, key=lambda p: sum(p["requirements"].values()))
    response = await client.post(
        "/api/players",
        json={"name": name or unique_name(), "profession_id": easiest["id"]},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
