"""The inventory over GMCP: Char.Items.List at entry, on request and after the items change."""

from __future__ import annotations

import json
from dataclasses import replace

from kadath_e2e import PASSWORD, unique_name
from kadath_telnet import GMCP, IAC, MUDLET, SB, SE, sign_up


def _frame(package: str, data: object) -> bytes:
    body = json.dumps(data, separators=(",", ":"))
    return bytes([IAC, SB, GMCP]) + f"{package} {body}".encode() + bytes([IAC, SE])


def _lists(client) -> list[object]:
    return [d for p, d in client.gmcp_frames() if p == "Char.Items.List"]


async def test_the_inventory_is_sent_at_entry_on_request_and_after_a_change(telnet) -> None:
    client = await telnet(MUDLET)  # "Char 1" covers Char.Items
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("It"))
    await client.until("<EOR>")
    empty = {"location": "inv", "items": []}
    assert await client.wait_gmcp("Char.Items.List") == empty
    assert _frame("Char.Items.List", empty) in client.raw

    client.line("get poker")  # the start room's fireplace poker
    await client.until("You pick up a wrought-iron fireplace poker.")
    while len(_lists(client)) < 2:
        assert await client.pump()
    [poker] = _lists(client)[1]["items"]
    assert set(poker) == {"id", "name", "attrib"}
    assert (poker["name"], poker["attrib"]) == ("a wrought-iron fireplace poker", "W")

    client.line("wield poker")
    await client.until("You wield")
    while len(_lists(client)) < 3:
        assert await client.pump()
    wielded = {"location": "inv", "items": [{**poker, "attrib": "l"}]}
    assert _lists(client)[2] == wielded

    client.gmcp("Char.Items.Inv", "")  # Mudlet asks for the list
    while len(_lists(client)) < 4:
        assert await client.pump()
    assert _lists(client)[3] == wielded
    assert client.raw.count(_frame("Char.Items.List", wielded)) == 2


async def test_no_inventory_for_a_client_that_did_not_ask_for_char_items(telnet) -> None:
    client = await telnet(replace(MUDLET, gmcp_supports=("Room 1", "Char.Vitals 1")))
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Ni"))
    client.line("get poker")
    await client.until("You pick up")
    client.gmcp("Char.Items.Inv", "")
    client.line("look")
    await client.until("Exits:")
    await client.until("<EOR>")
    assert await client.wait_gmcp("Char.Vitals")
    assert _lists(client) == []


async def test_char_status_is_sent_again_when_the_level_changes(telnet, server) -> None:
    client = await telnet(MUDLET)
    name = unique_name("Lv")
    await sign_up(client, unique_name("acct"), PASSWORD, name)
    status = await client.wait_gmcp("Char.Status")
    runtime = server.app.state.runtime
    player = runtime.game.presence.find(name)
    vitals = {"health": 10, "max_health": 30, "lucidity": 90, "experience": 5}
    runtime.hub.to_player(player.id, {"type": "state", "vitals": {**vitals, "level": 1}})
    runtime.hub.to_player(player.id, {"type": "state", "vitals": {**vitals, "level": 2}})
    while sum(p == "Char.Vitals" for p, _ in client.gmcp_frames()) < 3:
        assert await client.pump()
    statuses = [d for p, d in client.gmcp_frames() if p == "Char.Status"]
    assert statuses == [status, {**status, "level": 2}]


async def test_a_script_can_ask_for_an_acknowledgement_after_each_reply(telnet) -> None:
    client = await telnet(replace(MUDLET, gmcp_supports=("Kadath.Reply 1",)))
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Ak"))
    client.line("say one")
    client.line("xyzzy")
    await client.until("Unknown command")
    while sum(p == "Kadath.Reply" for p, _ in client.gmcp_frames()) < 2:
        assert await client.pump()
    acks = [d for p, d in client.gmcp_frames() if p == "Kadath.Reply"]
    assert acks == [{"n": 1, "ok": True}, {"n": 2, "ok": False}]
    # each after its reply's text
    said = client.raw.index(b'You say, "one"')
    first = client.raw.index(_frame("Kadath.Reply", {"n": 1, "ok": True}))
    assert said < first < client.raw.index(b"Unknown command")


async def test_the_inventory_is_sent_again_after_a_death(telnet, server) -> None:
    client = await telnet(MUDLET)
    name = unique_name("Dd")
    await sign_up(client, unique_name("acct"), PASSWORD, name)
    await client.wait_gmcp("Char.Items.List")
    runtime = server.app.state.runtime
    player = runtime.game.presence.find(name)
    died = {"type": "event", "event": "died", "text": "You have died."}
    runtime.hub.to_player(player.id, died)  # as the death service says it
    await client.until("You have died.")
    while len(_lists(client)) < 2:
        assert await client.pump()
    assert _lists(client)[1] == {"location": "inv", "items": []}
