"""Channels on a real server: who hears a channel (not those who left it, muted it or ignore
the speaker), the staff channel, history and settings across a restart, and the rate limit."""

from __future__ import annotations

import asyncio

from kadath_e2e import (
    Api,
    Connect,
    Frame,
    GameClient,
    NewCharacter,
    RunningServer,
    StartServer,
    new_account,
    new_character,
)

SLOW_DOWN = "Slow down: too many commands at once."


def channel_frames(frames: list[Frame], channel: str = "ooc") -> list[Frame]:
    return [f for f in frames if f.get("type") == "channel" and f.get("channel") == channel]


async def test_a_channel_reaches_its_members_but_not_who_left_muted_or_ignores_the_speaker(
    connect: Connect,
) -> None:
    alice, eve, bob, carol, dave = [await connect() for _ in range(5)]
    # bob> channel leave ooc / carol> channel mute ooc / dave> ignore alice
    assert (await bob.command("channel leave ooc"))["ok"]
    assert (await carol.command("channel mute ooc"))["ok"]
    assert (await dave.command(f"ignore {alice.name}"))["ok"]

    # alice> ooc Is anyone awake?
    reply = await alice.command("ooc Is anyone awake?")

    assert reply["ok"], reply
    heard = await eve.wait_for(lambda f: f.get("type") == "channel")
    assert heard == {
        "type": "channel",
        "channel": "ooc",
        "from": alice.name,
        "text": "Is anyone awake?",
        "seq": heard["seq"],
    }
    assert channel_frames(alice.meanwhile) == [{**heard, "seq": alice.meanwhile[-1]["seq"]}]
    for deaf in (bob, carol, dave):
        assert channel_frames(await deaf.sync()) == [], deaf.name

    # the long form, and the other default channel
    await alice.command("channel newbie Where is the library?")
    assert (await bob.wait_for(lambda f: f.get("type") == "channel"))["channel"] == "newbie"
    assert channel_frames(await dave.sync(), "newbie") == []

    # dave ignores alice in the room too: say, emote and whisper
    await alice.command("say Hello, room.")
    await alice.command("emote waves.")
    whisper = await alice.command(f"whisper {dave.name} psst")
    assert whisper["ok"] is False
    assert "not listening" in whisper["text"]
    assert await eve.wait_message("emote")
    assert [f for f in await dave.sync() if f.get("type") == "message"] == []

    # carol unmutes, bob joins again, dave unignores: all hear the next one
    await carol.command("channel unmute ooc")
    await bob.command("channel join ooc")
    await dave.command(f"unignore {alice.name}")
    await alice.command("ooc Welcome back.")
    for listener in (bob, carol, dave, eve):
        frame = await listener.wait_for(lambda f: f.get("text") == "Welcome back.")
        assert frame["channel"] == "ooc", listener.name


async def test_channels_lists_settings_and_the_staff_channel_is_for_admins(
    api: Api, connect: Connect
) -> None:
    assert api.admin is not None
    keeper = await connect(await new_character(api, api.admin))
    player = await connect()
    await player.command("channel mute newbie")

    listing = (await player.command("channels"))["text"]
    assert "ooc       on" in listing
    assert "newbie    on, muted" in listing
    assert "builders" not in listing
    refused = await player.command("builders hello?")
    assert refused["ok"] is False
    assert "staff" in refused["text"]

    assert (await keeper.command("staff Reloading the crypt soon."))["ok"]
    assert (await keeper.wait_for(lambda f: f.get("type") == "channel"))["channel"] == "builders"
    assert channel_frames(await player.sync(), "builders") == []


async def test_history_and_settings_survive_a_restart(
    server: RunningServer, api: Api, new_character: NewCharacter
) -> None:
    talker, listener = await new_character(), await new_character()
    a = await GameClient.open(server.ws_url)
    await a.hello(talker.token, talker.name)
    b = await GameClient.open(server.ws_url)
    await b.hello(listener.token, listener.name)
    for n in range(3):
        assert (await a.command(f"ooc message {n}"))["ok"]
    history = server.app.state.runtime.channel_history
    for _ in range(100):  # the writer stores them within about a second, unasked
        if not history.unsaved:
            break
        await asyncio.sleep(0.05)
    assert history.unsaved == 0
    await b.command("channel leave newbie")
    await b.command(f"ignore {talker.name}")

    await server.restart()
    assert (await a.wait_closed())[0] == 1012
    assert (await b.wait_closed())[0] == 1012

    a = await GameClient.open(server.ws_url)
    b = await GameClient.open(server.ws_url)
    try:
        await a.hello(talker.token, talker.name)
        await b.hello(listener.token, listener.name)
        history = (await a.command("history ooc"))["text"].splitlines()
        assert [line.split(" ", 1)[1] for line in history] == [
            f"[ooc] {talker.name}: message {n}" for n in range(3)
        ]
        assert (await a.command("history ooc 2"))["text"].splitlines() == history[-2:]
        # the listener's settings came back: off newbie, and still ignoring the talker
        assert "newbie    off" in (await b.command("channels"))["text"]
        assert (await b.command("ignore"))["text"] == f"You ignore: {talker.name}."
        assert "Nothing has been said" in (await b.command("history ooc"))["text"]
        await a.command("ooc after the restart")
        assert channel_frames(await b.sync()) == []
    finally:
        await a.close()
        await b.close()


async def test_channel_speech_counts_against_the_command_rate_limit(
    start_server: StartServer,
) -> None:
    server = await start_server(command_rate="5/second")
    api = Api.to(server.base_url)
    try:
        await new_account(api, "keeper")
        speaker, listener = await new_character(api), await new_character(api)
        a = await GameClient.open(server.ws_url)
        await a.hello(speaker.token, speaker.name)
        b = await GameClient.open(server.ws_url)
        await b.hello(listener.token, listener.name)
        ids = [await a.send_command(f"ooc spam {n}") for n in range(40)]
        replies = [
            await a.wait_for(lambda f, i=i: f.get("type") == "reply" and f["re"] == i) for i in ids
        ]
        slowed = [r for r in replies if r["text"] == SLOW_DOWN]
        heard = channel_frames(await b.sync())

        assert slowed
        assert len(heard) == len(ids) - len(slowed)
        assert len(heard) < len(ids)
        await a.close()
        await b.close()
    finally:
        await api.aclose()
