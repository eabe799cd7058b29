"""Channel messages over telnet: a text line, and GMCP Comm.Channel.Text for chat tabs."""

from __future__ import annotations

import re

from kadath_e2e import PASSWORD, Api, GameClient, new_account, new_character, unique_name
from kadath_telnet import MUDLET, sign_up

ANSI = re.compile(r"\x1b\[[0-9;]*m")


async def test_a_channel_message_arrives_as_a_line_and_as_comm_channel_text(telnet, server) -> None:
    api = Api.to(server.base_url)
    try:
        api.admin = await new_account(api, "keeper")
        browser_character = await new_character(api)
        client = await telnet(MUDLET)
        name = unique_name("Tn")
        await sign_up(client, unique_name("acct"), PASSWORD, name)
        await client.until("<EOR>")
        browser = await GameClient.open(server.ws_url)
        await browser.hello(browser_character.token, browser_character.name)

        await browser.command("ooc Anyone reading the Pnakotic fragments?")

        line = f"[ooc] {browser_character.name}: Anyone reading the Pnakotic fragments?"
        assert line in ANSI.sub("", await client.until("fragments?"))
        said = await client.wait_gmcp("Comm.Channel.Text")
        assert said == {"channel": "ooc", "talker": browser_character.name, "text": line}

        # the telnet player's own channel speech reaches its chat tab (and the browser) too
        client.line("newbie how do I read?")
        heard = await browser.wait_for(lambda f: f.get("channel") == "newbie")
        assert heard["from"] == name and heard["type"] == "channel"
        await client.until("how do I read?")
        talks = [d for p, d in client.gmcp_frames() if p == "Comm.Channel.Text"]
        assert talks[-1] == {
            "channel": "newbie",
            "talker": name,
            "text": f"[newbie] {name}: how do I read?",
        }
        await browser.close()
    finally:
        await api.aclose()
