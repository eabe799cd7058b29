"""The bytes of option negotiation, GMCP and MSSP, read off a raw socket."""

from __future__ import annotations

import asyncio
import zlib

from kadath_e2e import PASSWORD, unique_name
from kadath_telnet import (
    CHARSET,
    DO,
    EOR,
    GMCP,
    IAC,
    MCCP2,
    MSSP,
    MUDLET,
    NAWS,
    SB,
    SE,
    SGA,
    TTYPE,
    WILL,
    Persona,
    sign_up,
)


async def test_every_option_is_offered_at_once_to_a_client_that_never_answers(telnet) -> None:
    client = await telnet()  # answers nothing
    await client.until("Account name", within=5)
    offered = bytes(client.raw[: client.raw.index(b"\r\n")])
    for cmd, opt in [
        (DO, TTYPE),
        (WILL, SGA),
        (DO, NAWS),
        (WILL, EOR),
        (WILL, GMCP),
        (WILL, MSSP),
        (WILL, MCCP2),
    ]:
        assert bytes([IAC, cmd, opt]) in offered, (cmd, opt)


async def test_a_mud_client_gets_charset_utf8_and_gmcp_frames(telnet) -> None:
    client = await telnet(MUDLET)
    await client.until("Account name")
    assert (DO, CHARSET) in client.commands or (WILL, CHARSET) in client.commands
    request = [p for o, p in client.subnegotiations if o == CHARSET]
    assert request == [b"\x01 UTF-8"]  # REQUEST, separator, the one charset offered
    client.gmcp("Core.Ping")
    await client.wait_gmcp("Core.Ping")
    assert bytes([IAC, SB, GMCP]) + b"Core.Ping" + bytes([IAC, SE]) in client.raw


async def test_mssp_tells_a_crawler_about_the_world(telnet, server) -> None:
    client = await telnet(Persona(accepts={MSSP}))
    await client.until("Account name")
    payload = next(p for o, p in client.subnegotiations if o == MSSP)
    variables = {
        name.decode(): value.decode()
        for name, value in (
            part.split(b"\x02", 1) for part in payload.split(b"\x01")[1:] if b"\x02" in part
        )
    }
    assert variables["NAME"] == "Kadath"
    assert variables["PLAYERS"] == "0"
    assert int(variables["ROOMS"]) == len(server.app.state.runtime.game.world.rooms)
    for name in ("UPTIME", "CODEBASE", "CONTACT", "PORT", "CRAWL DELAY", "GENRE", "GAMEPLAY"):
        assert name in variables


async def test_mccp2_compresses_the_game_when_the_client_agrees(telnet) -> None:
    client = await telnet(Persona(accepts={MCCP2, SGA}))
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Zc"))
    client.line("look")
    await client.until("Exits:")
    # the banner and the game came after IAC SB MCCP2 IAC SE, as one zlib stream
    start = client.raw.index(bytes([IAC, SB, MCCP2, IAC, SE]))
    assert start < client.raw.index(b"Account name")
    assert isinstance(client._inflate, type(zlib.decompressobj()))


async def test_mssp_answers_a_crawler_that_asks_late(telnet) -> None:
    client = await telnet()  # ignores the offer at first
    await client.until("Account name")
    assert not any(o == MSSP for o, _ in client.subnegotiations)
    client.send(bytes([IAC, DO, MSSP]))
    async with asyncio.timeout(5):
        while not any(o == MSSP for o, _ in client.subnegotiations):
            assert await client.pump()
    payload = next(p for o, p in client.subnegotiations if o == MSSP)
    assert payload.startswith(b"\x01NAME\x02Kadath") or b"\x01NAME\x02Kadath\x01" in payload


async def test_terminal_types_are_cycled_until_the_mtts_bits(telnet) -> None:
    client = await telnet(MUDLET)  # MUDLET, ANSI-TRUECOLOR, then MTTS 2349
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Tt"))
    sends = [p for o, p in client.subnegotiations if o == TTYPE]
    assert sends.count(b"\x01") >= 3  # IAC SB TTYPE SEND IAC SE, once per name
    client.line("look")
    assert "\x1b[1;38;2;255;255;255m" in await client.until("<EOR>")  # truecolour, from MTTS
