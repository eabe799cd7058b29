"""Moderation on a real server: every moderation command by every role, a ban refused over
REST and WebSocket (and kicking the account's characters at once), mutes and freezes, the
audit log over the API, and a restart that keeps a ban and a mute."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kadath_e2e import Character, GameClient, StartServer, bearer
from kadath_world import Realm, open_realm

from kadath.domain.account import Role

PERMISSION = re.compile(r"^Only [a-z, ]+ (may|close)")
CLOSE_FORBIDDEN = 4403


@pytest.fixture
async def realm(start_server: StartServer) -> AsyncIterator[Realm]:
    realm = await open_realm(start_server)
    try:
        yield realm
    finally:
        await realm.aclose()


async def _grant(realm: Realm, username: str, role: Role) -> None:
    assert realm.api.admin is not None
    response = await realm.api.http.put(
        f"/api/admin/accounts/{username}/role",
        json={"role": role.value},
        headers=bearer(realm.api.admin.token),
    )
    assert response.status_code == 200, response.text


async def _member(realm: Realm, role: Role) -> tuple[Character, GameClient]:
    character, client = await realm.player()
    if role is not Role.PLAYER:
        await _grant(realm, character.account.username, role)
        await client.wait_for(lambda f: "made you" in str(f.get("text", "")))
    return character, client


async def _login(realm: Realm, username: str) -> Any:
    return await realm.api.http.post(
        "/api/auth/login", data={"username": username, "password": "correct horse battery"}
    )


async def _audit(realm: Realm, token: str, **filters: str) -> Any:
    return await realm.api.http.get("/api/admin/audit", params=filters, headers=bearer(token))


@pytest.mark.parametrize("role", list(Role))
async def test_every_moderation_command_by_every_role(realm: Realm, role: Role) -> None:
    actor = realm.admin if role is Role.ADMIN else (await _member(realm, role))[1]
    victim_character, victim = await realm.player()
    v, account = victim.name, victim_character.account.username

    async def expect(line: str, needed: Role) -> dict[str, Any]:
        reply = await actor.command(line)
        if role.at_least(needed):
            assert reply["ok"], (role, line, reply)
        else:
            assert not reply["ok"] and PERMISSION.match(reply["text"]), (role, line, reply)
        return reply

    filed = await expect(f"report {v} spamming the square", Role.PLAYER)
    report_id = re.search(r"#(\d+)", filed["text"])
    assert report_id is not None
    listed = await expect("reports", Role.MODERATOR)
    if role.at_least(Role.MODERATOR):
        assert f"#{report_id[1]}" in listed["text"]
    await expect(f"report close {report_id[1]}", Role.MODERATOR)
    await expect(f"mute {v} 10m shouting", Role.MODERATOR)
    await expect(f"unmute {v}", Role.MODERATOR)
    await expect(f"freeze {v} stop", Role.MODERATOR)
    await expect(f"unfreeze {v}", Role.MODERATOR)
    await expect(f"role {account} builder", Role.ADMIN)
    await expect(f"kick {v} go cool off", Role.MODERATOR)
    if role.at_least(Role.MODERATOR):
        code, _ = await victim.wait_closed()
        assert code == CLOSE_FORBIDDEN
        assert any("kicked" in str(f.get("text", "")) for f in victim.received)
    await expect(f"ban {account} 1h testing bans", Role.ADMIN)
    await expect(f"unban {account}", Role.ADMIN)
    if not role.at_least(Role.MODERATOR):
        assert (await victim.command("look"))["ok"]  # nothing happened to the victim
    assert realm.api.admin is not None
    logged = await _audit(realm, realm.api.admin.token, actor=actor.name)
    expected = {
        Role.PLAYER: ["report"],
        Role.BUILDER: ["report"],
        Role.MODERATOR: [
            "report",
            "report_close",
            "mute",
            "unmute",
            "freeze",
            "unfreeze",
            "kick",
        ],
    }.get(role, ["report", "report_close", "mute", "unmute", "freeze", "unfreeze"])
    if role is Role.ADMIN:
        expected += ["role", "kick", "ban", "unban"]
    assert [e["action"] for e in reversed(logged.json())] == expected


async def test_a_banned_account_is_kicked_at_once_and_refused_over_rest_and_websocket(
    realm: Realm,
) -> None:
    character, client = await realm.player()
    username = character.account.username

    reply = await realm.admin_says(f"ban {username} 2h griefing the newcomers")

    assert reply.startswith(f"The account {username} is banned until ")
    code, reason = await client.wait_closed()
    assert code == CLOSE_FORBIDDEN
    assert "banned" in reason
    kicked = [f for f in client.received if f.get("event") == "kicked"]
    assert "griefing the newcomers" in kicked[0]["text"]
    assert character.name not in [p.name for p in realm.runtime.game.presence.all()]

    refused = await _login(realm, username)
    assert refused.status_code == 403
    assert re.match(
        r"This account is banned until \d{4}-\d\d-\d\d \d\d:\d\d UTC: griefing the newcomers",
        refused.json()["detail"],
    )
    me = await realm.api.http.get("/api/auth/me", headers=bearer(character.token))
    assert me.status_code == 403
    again = await GameClient.open(realm.server.ws_url)
    await again.send_json({"type": "hello", "token": character.token, "player": character.name})
    error = await again.wait_type("error")
    assert error["code"] == "banned"
    assert "griefing" in error["text"]
    assert (await again.wait_closed())[0] == CLOSE_FORBIDDEN

    await realm.admin_says(f"unban {username}")
    assert (await _login(realm, username)).status_code == 200


async def test_bans_over_the_admin_api(realm: Realm) -> None:
    assert realm.api.admin is not None
    character, client = await realm.player()
    path = f"/api/admin/accounts/{character.account.username}/ban"
    admin = bearer(realm.api.admin.token)

    banned = await realm.api.http.put(
        path, json={"duration": "forever", "reason": "spam bot"}, headers=admin
    )
    assert banned.status_code == 200, banned.text
    assert (await client.wait_closed())[0] == CLOSE_FORBIDDEN
    refused = await _login(realm, character.account.username)
    assert refused.json()["detail"] == "This account is banned for good: spam bot"
    bad = await realm.api.http.put(path, json={"duration": "soon", "reason": "x"}, headers=admin)
    assert bad.status_code == 422

    assert (await realm.api.http.delete(path, headers=admin)).status_code == 200
    assert (await _login(realm, character.account.username)).status_code == 200
    again = await realm.api.http.delete(path, headers=admin)
    assert again.status_code == 404


async def test_a_muted_player_cannot_speak_and_a_frozen_one_can_only_look(realm: Realm) -> None:
    _, moderator = await _member(realm, Role.MODERATOR)
    _, loud = await realm.player()
    _, listener = await realm.player()
    await realm.teleport(loud, listener, room_id=realm.runtime.game.world.start_room_id)

    assert (await moderator.command(f"mute {loud.name} 10m shouting"))["ok"]
    await loud.wait_for(lambda f: "You have been muted for another" in str(f.get("text")))
    for line in ("say hello", "'hello", "emote waves", f"whisper {listener.name} psst"):
        refused = await loud.command(line)
        assert not refused["ok"]
        assert re.fullmatch(
            r"You are muted for another (10m|9m \d+s); you cannot speak\.", refused["text"]
        ), refused
    assert not [f for f in await listener.sync() if f.get("from") == loud.name]
    assert (await loud.command("look"))["ok"]
    refused = await moderator.command(f"mute {realm.admin.name} 1h")
    assert refused["text"] == "You cannot do that to an admin."

    assert (await moderator.command(f"unmute {loud.name}"))["ok"]
    assert (await loud.command("say hello again"))["ok"]
    await listener.wait_for(lambda f: f.get("from") == loud.name)

    assert (await moderator.command(f"freeze {loud.name}"))["ok"]
    for line in ("north", "say hi", "inventory", "score"):
        refused = await loud.command(line)
        assert not refused["ok"]
        assert refused["text"].startswith("You are frozen until it is lifted"), refused
    assert (await loud.command("look"))["ok"]
    assert (await loud.command("help"))["ok"]
    assert (await moderator.command(f"unfreeze {loud.name}"))["ok"]
    assert (await loud.command("score"))["ok"]
    assert (await loud.command("quit"))["ok"]


async def test_the_audit_log_records_each_action_and_filters(realm: Realm) -> None:
    moderator_character, moderator = await _member(realm, Role.MODERATOR)
    _, victim = await realm.player()
    reporter_character, reporter = await realm.player()
    assert (await reporter.command(f"report {victim.name} rude words"))["ok"]
    await moderator.wait_for(lambda f: "rude words" in str(f.get("text")))  # the queue pings
    for line in (
        f"mute {victim.name} 5m calm down",
        f"unmute {victim.name}",
        f"freeze {victim.name}",
        f"unfreeze {victim.name}",
        f"kick {victim.name} enough",
    ):
        assert (await moderator.command(line))["ok"], line
    token = moderator_character.token

    mine = (await _audit(realm, token, actor=moderator.name.lower())).json()
    assert [e["action"] for e in mine] == ["kick", "unfreeze", "freeze", "unmute", "mute"]
    assert all(e["target"] == victim.name for e in mine)
    assert "calm down" in mine[-1]["detail"]
    about = (await _audit(realm, token, target=victim.name)).json()
    assert [e["action"] for e in about][-1] == "report"
    assert about[-1]["actor"] == reporter.name
    grants = (await _audit(realm, token, action="role")).json()
    assert grants[0]["target"] == moderator_character.account.username
    assert grants[0]["detail"] == "player -> moderator"
    assert (await _audit(realm, token, since="2999-01-01T00:00:00Z")).json() == []
    assert (await _audit(realm, reporter_character.token)).status_code == 403


async def test_a_restart_keeps_a_ban_and_a_mute(realm: Realm) -> None:
    muted_character, muted = await realm.player()
    banned_character, _ = await realm.player()
    await realm.admin_says(f"mute {muted.name} 1h flooding")
    await realm.admin_says(f"ban {banned_character.account.username} forever cheating")

    await realm.stop()
    await realm.start()

    _, muted = await realm.player(muted_character)
    refused = await muted.command("say am I free?")
    assert not refused["ok"]
    assert re.match(r"You are muted for another (1h|59m \d+s);", refused["text"]), refused
    denied = await _login(realm, banned_character.account.username)
    assert denied.status_code == 403
    assert denied.json()["detail"] == "This account is banned for good: cheating"
