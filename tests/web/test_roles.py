"""Every REST route and every command, tried with every role: what a role may use is never
refused for permission; the rest is refused with a clear sentence (HTTP 403)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx2
import pytest
from kadath_web import User, WebApp, register

from kadath.commands.base import Command
from kadath.domain.account import Role
from kadath.domain.player import Player
from kadath.domain.stats import Stats

# The lowest role each /api route asks for; a new route must be added here.
ROUTE_ROLES: dict[tuple[str, str], Role | None] = {
    ("POST", "/api/auth/register"): None,
    ("POST", "/api/auth/login"): None,
    ("GET", "/api/auth/me"): Role.PLAYER,
    ("POST", "/api/auth/invites"): Role.ADMIN,
    ("GET", "/api/auth/invites"): Role.ADMIN,
    ("GET", "/api/players"): Role.PLAYER,
    ("POST", "/api/players"): Role.PLAYER,
    ("GET", "/api/players/{player_id}"): Role.PLAYER,
    ("DELETE", "/api/players/{player_id}"): Role.PLAYER,
    ("GET", "/api/professions"): None,
    ("GET", "/api/rooms"): None,
    ("GET", "/api/rooms/{room_id}"): None,
    ("GET", "/api/containers/{container_id}"): None,
    ("GET", "/api/monitoring/health"): None,
    ("GET", "/api/monitoring/ready"): None,
    ("GET", "/api/monitoring/stats"): Role.ADMIN,
    ("PUT", "/api/admin/accounts/{name}/role"): Role.ADMIN,
    ("PUT", "/api/admin/accounts/{name}/ban"): Role.ADMIN,
    ("DELETE", "/api/admin/accounts/{name}/ban"): Role.ADMIN,
    ("GET", "/api/admin/accounts/{name}/zones"): Role.ADMIN,
    ("PUT", "/api/admin/accounts/{name}/zones/{zone}"): Role.ADMIN,
    ("DELETE", "/api/admin/accounts/{name}/zones/{zone}"): Role.ADMIN,
    ("GET", "/api/admin/reports"): Role.MODERATOR,
    ("GET", "/api/admin/audit"): Role.MODERATOR,
}
PERMISSION = re.compile(r"^Only [a-z, ]+ may ")


def _api_routes(web: WebApp) -> list[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = web.app.openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api")
        for method in operations
    )


async def _users(web: WebApp, admin: User) -> dict[Role, User]:
    users = {Role.ADMIN: admin}
    for role in (Role.PLAYER, Role.BUILDER, Role.MODERATOR):
        user = await register(web.client)
        if role is not Role.PLAYER:
            granted = await web.client.put(
                f"/api/admin/accounts/{user.username}/role",
                json={"role": role.value},
                headers=admin.headers,
            )
            assert granted.status_code == 200, granted.text
            assert granted.json()["role"] == role.value
        users[role] = user
    return users


def _path(template: str) -> str:
    return (
        template.replace("{player_id}", str(uuid.uuid4()))
        .replace("{room_id}", "nowhere")
        .replace("{container_id}", str(uuid.uuid4()))
        .replace("{name}", "nobodyatall")
        .replace("{zone}", "arkham")
    )


async def test_every_route_is_classified(web: WebApp) -> None:
    assert _api_routes(web) == sorted(ROUTE_ROLES)


async def test_every_route_with_every_role(web: WebApp, admin: User) -> None:
    users = await _users(web, admin)
    bodies: dict[str, Any] = {"PUT": {"role": "builder", "duration": "1h", "reason": "x"}}
    for (method, template), needed in ROUTE_ROLES.items():
        if needed is None:
            continue
        for role, user in users.items():
            response = await web.client.request(
                method, _path(template), headers=user.headers, json=bodies.get(method)
            )
            refused = response.status_code == 403 and PERMISSION.match(
                response.json().get("detail", "")
            )
            assert bool(refused) == (not role.at_least(needed)), (
                method,
                template,
                role,
                response.text,
            )


async def test_invites_only_for_admins(client: httpx2.AsyncClient, admin: User) -> None:
    moderator = await register(client)
    await client.put(
        f"/api/admin/accounts/{moderator.username}/role",
        json={"role": "moderator"},
        headers=admin.headers,
    )
    refused = await client.post("/api/auth/invites", headers=moderator.headers)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only admins may do that."
    assert (await client.post("/api/auth/invites", headers=admin.headers)).status_code == 201


def _player(role: Role, room_id: str) -> Player:
    return Player(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        name=f"Tester{role.value}",
        room_id=room_id,
        respawn_room_id=room_id,
        stats=Stats(10, 10, 10, 10, 10, 10),
        health=20,
        max_health=20,
        profession_id=1,
        role=role,
    )


@pytest.mark.parametrize("role", list(Role))
async def test_every_command_with_every_role(web: WebApp, role: Role) -> None:
    dispatcher = web.runtime.dispatcher
    game = web.runtime.game
    player = _player(role, game.world.start_room_id)
    game.presence.enter(player)  # in play (in memory only: no command here may need its row)
    commands: list[Command] = list(dispatcher.table.ordered)
    assert {c.required_role for c in commands} >= {Role.PLAYER, Role.MODERATOR, Role.ADMIN}
    for command in commands:
        if command.names[0] in ("quit",):
            continue
        reply = await dispatcher.dispatch(player, command.names[0])
        refused = not reply.ok and PERMISSION.match(reply.text) is not None
        allowed = role.at_least(command.required_role)
        assert refused == (not allowed), (command.names[0], role, reply.text)
        if refused:
            assert command.names[0] in reply.text
