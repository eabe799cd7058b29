"""Signing in, creating a character and playing over telnet, beside WebSocket players."""

from __future__ import annotations

import re

from kadath_e2e import PASSWORD, Api, GameClient, new_account, new_character, unique_name
from kadath_telnet import (
    ECHO,
    EOR_CMD,
    IAC,
    MUDLET,
    NAWS,
    SB,
    SCREEN_READER,
    SE,
    WILL,
    WONT,
    create_character,
    sign_up,
)

from kadath.telnet.gmcp import SHORT_DIRECTIONS, room_num

ANSI = re.compile(r"\x1b\[[0-9;]*m")


async def test_sign_up_create_a_character_and_play(telnet, server) -> None:
    client = await telnet(MUDLET)
    name = unique_name("Tn")
    await sign_up(client, unique_name("acct"), PASSWORD, name)

    # the password was typed with echo off, and echo came back after it
    assert (WILL, ECHO) in client.commands and (WONT, ECHO) in client.commands
    assert PASSWORD not in client.text
    # the prompt shows health and lucidity, ended by IAC EOR
    await client.until("<EOR>")
    assert EOR_CMD in client.marks
    assert re.search(r"\[HP \d+/\d+ Luc 100/100\]", ANSI.sub("", client.text))

    client.line("look")
    seen = await client.until("<EOR>")
    assert "Exits:" in ANSI.sub("", seen)
    client.line("say hello from telnet")
    assert "hello from telnet" in await client.until("<EOR>")

    # Mudlet's mapper data: Room.Info with a stable number and exits direction -> number
    world = server.app.state.runtime.game.world
    info = await client.wait_gmcp("Room.Info")
    room = world.rooms[world.start_room_id]
    assert info["num"] == room_num(room.id)
    assert info["name"] == room.name
    assert info["exits"] == {SHORT_DIRECTIONS[d]: room_num(dest) for d, dest in room.exits.items()}
    # what the player said shows in their own chat tab too
    said = await client.wait_gmcp("Comm.Channel.Text")
    assert said == {"channel": "say", "talker": name, "text": 'You say, "hello from telnet"'}
    vitals = await client.wait_gmcp("Char.Vitals")
    assert {"hp", "maxhp", "lucidity", "level", "xp", "string"} <= set(vitals)
    assert (await client.wait_gmcp("Char.Name"))["name"] == name
    # and the character is online like any other
    assert server.app.state.runtime.hub.connected == 1

    client.line("quit")
    await client.wait_closed()
    assert ("Core.Goodbye", "quit") in client.gmcp_frames()


async def test_telnet_and_websocket_players_see_and_hear_each_other(telnet, server) -> None:
    api = Api.to(server.base_url)
    try:
        api.admin = await new_account(api, "keeper")  # the first account: the admin
        browser_character = await new_character(api)
        browser = await GameClient.open(server.ws_url)
        await browser.hello(browser_character.token, browser_character.name)

        # a telnet player with an account made over REST, logging in in-band
        account = await new_account(api)
        client = await telnet(MUDLET)
        await client.until("Account name")
        client.line(account.username)
        await client.until("Password:")
        client.line(PASSWORD)
        name = unique_name("Tn")
        await create_character(client, name)
        await browser.wait_for(lambda f: f.get("event") == "arrived" and f.get("name") == name)

        client.line("say good evening")
        heard = await browser.wait_message("say")
        assert heard["from"] == name and "good evening" in heard["text"]

        await browser.command("say and to you")
        assert "and to you" in await client.until("and to you")
        # its GMCP came just before the text
        talks = [d for p, d in client.gmcp_frames() if p == "Comm.Channel.Text"]
        assert [t["talker"] for t in talks] == [name, browser_character.name]
        assert talks[1]["channel"] == "say" and "and to you" in talks[1]["text"]
        # operators see the telnet player like any other
        assert name in (await browser.command("who"))["text"]
        assert (await api.admin_stats())["telnet_connections"] == 1
        assert (await api.admin_stats())["connections"] == 2
        metrics = (await api.http.get("/metrics")).text
        assert "kadath_connections 2.0" in metrics
        await browser.close()
    finally:
        await api.aclose()


async def test_a_screen_reader_gets_plain_text(telnet) -> None:
    client = await telnet(SCREEN_READER)
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Sr"))
    client.line("look")
    seen = await client.until("Exits:")
    seen += await client.until("<EOR>")
    assert "\x1b[" not in client.text
    assert "Health " in seen and " of " in seen and "[HP" not in seen


async def test_a_colour_client_gets_colour_by_channel(telnet) -> None:
    client = await telnet(MUDLET)
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Co"))
    client.line("look")
    seen = await client.until("<EOR>")
    assert "\x1b[1;38;2;" in seen  # the room title, in truecolour


async def test_connecting_from_a_browser_replaces_the_telnet_connection(telnet, server) -> None:
    client = await telnet()
    account, name = unique_name("acct"), unique_name("Rp")
    await sign_up(client, account, PASSWORD, name)
    api = Api.to(server.base_url)
    try:
        browser = await GameClient.open(server.ws_url)
        await browser.hello(await api.login(account), name)
        await client.until("You have connected from elsewhere")
        await client.wait_closed()
        assert (await browser.command("look"))["ok"]
        await browser.close()
    finally:
        await api.aclose()


async def test_a_resized_window_wraps_the_next_lines_at_its_new_width(telnet) -> None:
    client = await telnet(MUDLET)  # 100 columns
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Nw"))
    await client.until("<EOR>")
    words = "the stars are right " * 8
    client.line(f"say {words}")
    wide = ANSI.sub("", await client.until("<EOR>"))
    assert max(len(line) for line in wide.split("\r\n")) > 40
    client.send(bytes([IAC, SB, NAWS, 0, 40, 0, 24, IAC, SE]))  # now 40 columns
    client.line(f"say {words}")
    narrow = ANSI.sub("", await client.until("<EOR>"))
    said = [line for line in narrow.split("\r\n") if "<EOR>" not in line and line]
    assert len(said) > 3 and max(len(line) for line in said) <= 40
