"""Players on a real server: who sees what, sessions that drop, replace and restart, and the
protocol holding up against clumsy or hostile clients.

Characters start in Ma Dorsey's parlour (``arkham.boarding_house``); ``east`` is Garrison Street."""

from __future__ import annotations

import asyncio

import pytest
from kadath_e2e import (
    Api,
    Character,
    Connect,
    GameClient,
    NewCharacter,
    RunningServer,
    StartServer,
    bearer,
    events,
    is_event,
    messages,
    new_character,
)

from kadath.realtime import connection

START = "arkham.boarding_house"
POKER = "a wrought-iron fireplace poker"  # lies in the parlour when the world is new
EAST = "arkham.garrison_street"


def who_names(reply: dict[str, object]) -> set[str]:
    lines = str(reply["text"]).splitlines()[1:]
    return {line.split()[0] for line in lines}


# -- seeing each other -------------------------------------------------------------------------


async def test_two_players_see_each_other_arrive_walk_about_and_leave(connect: Connect) -> None:
    alice = await connect()
    bob = await connect()

    arrived = await alice.wait_for(is_event("arrived", bob.name))
    assert arrived["text"] == f"{bob.name} steps out of the fog."

    # bob> east
    await bob.command("east")
    left = await alice.wait_for(is_event("left", bob.name))
    assert left["text"] == f"{bob.name} leaves east."
    # bob> west
    await bob.command("west")
    back = await alice.wait_for(is_event("arrived", bob.name))
    assert back["text"] == f"{bob.name} arrives from the east."

    # bob> quit
    reply = await bob.command("quit")
    assert reply["ok"]
    assert "Farewell" in reply["text"]
    gone = await alice.wait_for(is_event("left", bob.name))
    assert gone["text"] == f"{bob.name} fades into the fog."
    # nobody announces alice to herself
    assert not [f for f in alice.received if f.get("name") == alice.name]


async def test_a_new_arrival_sees_who_is_already_in_the_room(connect: Connect) -> None:
    alice = await connect()
    bob = await connect()
    welcome = bob.received[0]
    assert welcome["type"] == "welcome"
    assert alice.name in welcome["room"]["players"]
    room = await bob.wait_type("room")
    assert alice.name in room["room"]["players"]
    assert f"Here: {alice.name}" in room["text"]


async def test_speech_reaches_the_room_and_only_the_room(connect: Connect) -> None:
    alice, bob, carol = await connect(), await connect(), await connect()
    await carol.command("east")  # carol stands on Garrison Street now
    await alice.sync()
    await bob.sync()
    await carol.sync()

    # alice> say The stars are right.
    reply = await alice.command("say The stars are right.")
    assert reply == {**reply, "ok": True, "text": 'You say, "The stars are right."'}
    heard = await bob.wait_message("say")
    assert heard["text"] == f'{alice.name} says, "The stars are right."'
    assert heard["from"] == alice.name

    # alice> :shivers
    await alice.command(":shivers")
    seen = await bob.wait_message("emote")
    assert seen["text"] == f"{alice.name} shivers"

    assert messages(await carol.sync()) == []
    assert messages(await alice.sync()) == []  # the speaker reads the reply, not an echo


async def test_a_whisper_reaches_only_its_target(connect: Connect) -> None:
    alice, bob, carol = await connect(), await connect(), await connect()
    await alice.command("east")  # whispers cross rooms

    # alice> whisper <bob> meet me at the docks
    reply = await alice.command(f"whisper {bob.name.lower()} meet me at the docks")
    assert reply["ok"]
    assert reply["text"] == f'You whisper to {bob.name}, "meet me at the docks"'
    heard = await bob.wait_message("whisper")
    assert heard["text"] == f'{alice.name} whispers to you, "meet me at the docks"'

    assert messages(await carol.sync()) == []
    assert messages(await alice.sync()) == []

    # alice> whisper Nobodyhere hello
    missing = await alice.command("whisper Nobodyhere hello")
    assert missing["ok"] is False
    assert "Nobody called Nobodyhere" in missing["text"]


async def test_who_updates_live(connect: Connect) -> None:
    alice = await connect()
    assert who_names(await alice.command("who")) == {alice.name}

    bob = await connect()
    await alice.wait_for(is_event("arrived", bob.name))
    reply = await alice.command("who")
    assert reply["text"].startswith("2 in the world:")
    assert who_names(reply) == {alice.name, bob.name}

    await bob.command("quit")
    await alice.wait_for(is_event("left", bob.name))
    assert who_names(await alice.command("who")) == {alice.name}


# -- sessions ----------------------------------------------------------------------------------


async def test_a_second_login_kicks_the_first_and_the_new_connection_plays(
    server: RunningServer, connect: Connect, new_character: NewCharacter
) -> None:
    watcher = await connect()
    hero = await new_character()
    first = await connect(hero)
    await watcher.wait_for(is_event("arrived", hero.name))

    second = await connect(hero)

    kicked = await first.wait_event("kicked")
    assert "connected from elsewhere" in kicked["text"]
    code, _ = await first.wait_closed()
    assert code == 4409
    assert second.received[0]["type"] == "welcome"
    reply = await second.command("say still here")
    assert reply["ok"]
    await watcher.wait_message("say")
    # the hand-over is invisible to the room: no one left, no one arrived
    assert events(await watcher.sync(), "arrived", "left") == []
    assert who_names(await second.command("who")) == {watcher.name, hero.name}


async def test_quit_then_reconnect_puts_the_character_back_where_it_stood(
    server: RunningServer, api: Api, connect: Connect, new_character: NewCharacter
) -> None:
    watcher = await connect()
    hero = await new_character()
    first = await connect(hero)
    await first.command("east")
    await first.command("west")
    await first.command("east")

    reply = await first.command("quit")
    assert reply["text"] == "The shadows close behind you. Farewell."
    code, _ = await first.wait_closed()
    assert code == 1000
    await _until_saved_offline(api, hero, EAST)  # see the next test for not waiting

    again = await connect(hero)
    welcome = again.received[0]
    assert welcome["room"]["id"] == EAST
    assert welcome["text"] == f"Welcome to Kadath, {hero.name}."
    assert (await again.command("look"))["ok"]
    # the watcher (in the parlour) saw the walking, but not the quit on the street
    assert [f["event"] for f in events(await watcher.sync(), "arrived", "left")] == [
        "arrived",  # hero steps out of the fog
        "left",  # leaves east
        "arrived",  # comes back
        "left",  # leaves east again
    ]


async def test_a_reconnect_right_after_quit_finds_the_character_where_it_quit(
    server: RunningServer,
    connect: Connect,
    new_character: NewCharacter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = server.app.state.runtime.entry
    save, saved = entry._save, asyncio.Event()

    async def slow_save(players: list[object]) -> None:  # the quit's commit takes a while
        if not saved.is_set():
            await asyncio.sleep(0.5)
        await save(players)
        saved.set()

    monkeypatch.setattr(entry, "_save", slow_save)
    hero = await new_character()
    first = await connect(hero)
    await first.command("east")
    await first.command("quit")
    await first.wait_closed()
    try:
        again = await connect(hero)  # at once, while the quit's save is still running

        assert again.received[0]["room"]["id"] == EAST
    finally:
        await asyncio.wait_for(saved.wait(), 5)  # no save left running into the teardown


async def test_quit_replies_only_once_the_character_is_saved(
    server: RunningServer,
    connect: Connect,
    new_character: NewCharacter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = server.app.state.runtime.entry
    save, saved = entry._save, asyncio.Event()

    async def slow_save(players: list[object]) -> None:  # the quit's commit takes a while
        await asyncio.sleep(0.3)
        await save(players)
        saved.set()

    monkeypatch.setattr(entry, "_save", slow_save)
    hero = await new_character()
    first = await connect(hero)
    await first.command("east")

    reply = await first.command("quit")

    assert reply["ok"]
    assert saved.is_set()  # docs/protocol.md: quit saves, then replies
    code, _ = await first.wait_closed()
    assert code == 1000


async def test_a_dropped_connection_keeps_the_character_for_the_grace_period_and_a_quick_reconnect_is_seamless(  # noqa: E501
    start_server: StartServer,
) -> None:
    server = await start_server(reconnect_grace_seconds=3.0)
    api = Api.to(server.base_url)
    clients: list[GameClient] = []
    try:
        await api.register("keeper")
        hero, friend = await new_character(api), await new_character(api)
        watcher = await GameClient.open(server.ws_url)
        clients.append(watcher)
        await watcher.hello(friend.token, friend.name)
        first = await GameClient.open(server.ws_url)
        clients.append(first)
        await first.hello(hero.token, hero.name)
        await watcher.wait_for(is_event("arrived", hero.name))

        first.abort()  # the network drops: no closing handshake
        await _until_connections(server, 1)
        # linkdead, but still in the world
        assert who_names(await watcher.command("who")) == {hero.name, friend.name}

        again = await GameClient.open(server.ws_url)
        clients.append(again)
        await again.hello(hero.token, hero.name)
        assert (await again.command("say back again"))["ok"]
        await watcher.wait_message("say")
        assert events(await watcher.sync(), "arrived", "left") == []
        await asyncio.sleep(3.2)  # past the grace period: the old timer must be gone
        assert events(await watcher.sync(), "arrived", "left") == []
        assert who_names(await watcher.command("who")) == {hero.name, friend.name}
    finally:
        for client in clients:
            await client.close()
        await api.aclose()


async def test_a_dropped_connection_that_never_comes_back_leaves_after_the_grace_period(
    server: RunningServer, connect: Connect
) -> None:
    watcher = await connect()
    hero = await connect()
    await watcher.wait_for(is_event("arrived", hero.name))

    hero.abort()

    left = await watcher.wait_for(is_event("left", hero.name), within=5)
    assert left["text"] == f"{hero.name} fades into the fog."
    assert who_names(await watcher.command("who")) == {watcher.name}


async def test_a_restart_keeps_characters_where_they_were_with_what_they_carry(
    server: RunningServer, api: Api, new_character: NewCharacter
) -> None:
    walker, sitter = await new_character(), await new_character()
    a = await GameClient.open(server.ws_url)
    await a.hello(walker.token, walker.name)
    b = await GameClient.open(server.ws_url)
    await b.hello(sitter.token, sitter.name)
    # walker> get poker
    taken = await a.command("get poker")
    assert taken["ok"], taken
    assert POKER in (await a.command("inventory"))["text"]
    await a.command("east")
    await a.command("north")
    here = [f for f in a.meanwhile if f["type"] == "room"][-1]["room"]["id"]
    assert here == "miskatonic.campus_gate"

    await server.restart()
    assert (await a.wait_closed())[0] == 1012
    assert (await b.wait_closed())[0] == 1012

    api.http.base_url = server.base_url  # type: ignore[assignment]
    a = await GameClient.open(server.ws_url)
    b = await GameClient.open(server.ws_url)
    try:
        assert (await a.hello(walker.token, walker.name))["room"]["id"] == here
        parlour = (await b.hello(sitter.token, sitter.name))["room"]
        assert parlour["id"] == START
        assert POKER not in parlour["items"]  # taken, and not seeded again by the restart
        assert POKER in (await a.command("inventory"))["text"]
        stored = await api.http.get(f"/api/players/{walker.id}", headers=bearer(walker.token))
        assert stored.json()["room_id"] == here
    finally:
        await a.close()
        await b.close()


async def test_a_graceful_shutdown_tells_connected_players_before_closing(
    server: RunningServer, connect: Connect
) -> None:
    alice, bob = await connect(), await connect()

    await server.stop()

    for player in (alice, bob):
        notice = await player.wait_event("shutdown")
        assert notice["text"] == "The server is shutting down; your character has been saved."
        code, _ = await player.wait_closed()
        assert code == 1012
        assert player.received[-1] is notice  # the last word before the close


# -- protocol robustness -----------------------------------------------------------------------


async def test_malformed_frames_get_error_frames_and_the_connection_stays_open(
    connect: Connect,
) -> None:
    alice = await connect()

    bad_frames = [
        ("{not json", "bad_frame"),
        ("[1, 2, 3]", "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "command", "text": "look"}', "bad_frame"),  # no id
        ('{"type": "command", "id": "x"}', "bad_frame"),  # no text
        ('{"type": "command", "id": true, "text": "look"}', "bad_frame"),
        ('{"type": "command", "id": "' + "i" * 65 + '", "text": "look"}', "bad_frame"),
        ('{"type": "command", "id": "long", "text": "' + "a" * 1001 + '"}', "too_long"),
        ("x" * 5000, "too_long"),
        ('{"type": "hello", "token": "t", "player": "p"}', "bad_frame"),  # already greeted
    ]
    for raw, code in bad_frames:
        await alice.send_raw(raw)
        error = await alice.wait_type("error")
        assert error["code"] == code, (raw[:40], error)
        assert error["text"]

    reply = await alice.command("look")
    assert reply["ok"]
    assert (await alice.command("say " + "b" * 990))["ok"] is False  # fits a line, not a breath
    assert [f for f in alice.received if f["type"] == "reply" and f["re"] == "long"] == []


async def test_a_command_flood_gets_slow_down_replies(connect: Connect) -> None:
    alice = await connect()
    ids = [f"f{n}" for n in range(120)]
    for frame_id in ids:
        await alice.send_command("score", frame_id)

    replies = [
        await alice.wait_for(lambda f, i=i: f.get("type") == "reply" and f["re"] == i) for i in ids
    ]

    slowed = [r for r in replies if r["text"] == "Slow down: too many commands at once."]
    served = [r for r in replies if r["ok"]]
    assert slowed
    assert all(r["ok"] is False for r in slowed)
    assert len(served) >= 40  # the burst allowance of the default 20/second
    assert len(slowed) + len(served) == len(ids)


async def test_a_ping_gets_a_pong(connect: Connect) -> None:
    alice = await connect()
    await alice.send_json({"type": "ping"})
    pong = await alice.wait_type("pong")
    assert set(pong) == {"type", "seq"}


async def test_every_command_gets_exactly_one_reply_carrying_its_id(connect: Connect) -> None:
    alice = await connect()
    lines = ["look", "", "   ", "xyzzy", "say", "go nowhere", "who", "east", "west", "help"]
    sent = [await alice.send_command(line) for line in lines]
    await alice.send_json({"type": "command", "id": 42, "text": "score"})
    sent.append("42")

    replies = [
        await alice.wait_for(lambda f, i=i: f.get("type") == "reply" and f["re"] == i) for i in sent
    ]
    await alice.sync()

    assert [r["re"] for r in replies] == sent
    all_replies = [f["re"] for f in alice.received if f["type"] == "reply"]
    assert sorted(all_replies) == sorted(sent)
    by_line = dict(zip(lines, replies, strict=False))
    assert by_line[""] == {**by_line[""], "ok": True, "text": ""}
    assert by_line["xyzzy"]["ok"] is False
    assert "Unknown command" in by_line["xyzzy"]["text"]
    assert by_line["say"]["text"] == "Usage: say <message>"


async def test_seq_numbers_every_frame_of_a_connection_in_order(connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    for n in range(15):
        await bob.send_command(f"say line {n}")
        await alice.send_command("look")
    await alice.send_raw("{oops")
    for _ in range(15):
        await alice.wait_message("say")
    await alice.sync()
    await bob.sync()

    assert len(alice.received) > 30
    assert len(bob.received) > 15
    for player in (alice, bob):
        assert player.seqs == list(range(1, len(player.received) + 1))


async def test_the_first_frame_must_be_a_hello(server: RunningServer) -> None:
    client = await GameClient.open(server.ws_url)
    await client.send_json({"type": "command", "id": "1", "text": "look"})
    error = await client.wait_type("error")
    assert error["code"] == "hello_expected"
    assert (await client.wait_closed())[0] == 4401


async def test_a_connection_that_never_says_hello_is_closed(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "HELLO_TIMEOUT", 0.3)
    client = await GameClient.open(server.ws_url)
    error = await client.wait_type("error")
    assert error["code"] == "hello_timeout"
    assert (await client.wait_closed())[0] == 4400


async def _until_saved_offline(api: Api, hero: Character, room_id: str) -> None:
    """Wait until the character is out of play and its row says it stands in ``room_id``."""
    for _ in range(250):
        response = await api.http.get(f"/api/players/{hero.id}", headers=bearer(hero.token))
        body = response.json()
        if not body["online"] and body["room_id"] == room_id:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{hero.name} was not saved offline in {room_id}: {body}")


async def _until_connections(server: RunningServer, count: int, within: float = 5) -> None:
    """Wait until the server itself counts ``count`` open game connections."""
    runtime = server.app.state.runtime
    for _ in range(int(within / 0.02)):
        if runtime.hub.connected == count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{runtime.hub.connected} connections, not {count}")
