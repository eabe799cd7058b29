"""Bad input over telnet: each gets a clear message or a clean disconnect, and the server and
the other players carry on."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket

import pytest
from kadath_e2e import PASSWORD, Api, new_account, unique_name
from kadath_telnet import DO, IAC, NOP, SB, SILENT, TelnetClient, sign_up, telnet_port


async def _still_serving(server) -> None:
    """A fresh client still gets the banner promptly."""
    client = await TelnetClient.open(telnet_port(server), SILENT)
    try:
        await client.until("Account name", within=5)
    finally:
        await client.close()


async def test_an_over_long_line_is_refused_and_the_sign_in_goes_on(telnet, server) -> None:
    limit = server.settings.max_line_length
    client = await telnet()
    await client.until("Account name")
    client.send(b"a" * (limit * 20) + b"\r\n")
    await client.until("That is too long.")
    await client.until("Account name")


async def test_an_over_long_command_is_ignored_in_play(telnet, server) -> None:
    limit = server.settings.max_line_length
    client = await telnet()
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Lo"))
    client.send(b"say " + b"x" * (limit + 1) + b"\r\n")
    await client.until("That line is too long; it was ignored.")
    client.line("say still here")
    await client.until('You say, "still here"')


async def test_invalid_utf8_is_replaced_not_fatal(telnet) -> None:
    client = await telnet()
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Ut"))
    client.send(b"say caf\xe9 \xc3\x28 ok\r\n")
    said = await client.until('ok"')
    assert "\ufffd" in said
    client.line("say fine")
    await client.until('You say, "fine"')


async def test_binary_garbage_and_iac_floods_leave_the_server_serving(telnet, server) -> None:
    noise = random.Random(9)
    garbage = await telnet()
    await garbage.until("Account name")
    garbage.send(bytes(noise.randrange(256) for _ in range(64 * 1024)))
    flood = await telnet()
    flood.send(bytes([IAC, NOP]) * 20000 + b"".join(bytes([IAC, DO, n]) for n in range(256)))
    endless = await telnet()
    endless.send(bytes([IAC, SB, 201]) + b"Core.Hello " + b"x" * (256 * 1024))
    await asyncio.sleep(0.2)
    await _still_serving(server)
    await garbage.close()
    await flood.close()
    await endless.close()
    await _still_serving(server)


async def test_connections_per_address_are_limited(start_server) -> None:
    server = await start_server(telnet_connections_per_ip=2)
    port = telnet_port(server)
    first = await TelnetClient.open(port)
    second = await TelnetClient.open(port)
    third = await TelnetClient.open(port)
    try:
        await third.until("Too many connections from your address")
        await third.wait_closed()
        await first.until("Account name")
        await first.close()
        await asyncio.sleep(0.1)
        fourth = await TelnetClient.open(port)
        await fourth.until("Account name")
        await fourth.close()
    finally:
        for client in (second, third):
            await client.close()


async def test_an_unauthenticated_connection_times_out(start_server) -> None:
    server = await start_server(telnet_login_timeout=1.0)
    client = await TelnetClient.open(telnet_port(server))
    try:
        await client.until("You took too long to sign in; goodbye.", within=5)
        await client.wait_closed()
    finally:
        await client.close()


async def test_input_keeps_a_connection_open_and_silence_closes_it(start_server) -> None:
    server = await start_server(telnet_idle_timeout=2, telnet_login_timeout=60.0)
    client = await TelnetClient.open(telnet_port(server))
    try:
        await client.until("Account name", within=5)
        for _ in range(8):  # 3.2 s of input, longer than the idle limit
            client.send(bytes([IAC, NOP]))
            await asyncio.sleep(0.4)
        with contextlib.suppress(TimeoutError):
            while await client.pump(within=0.2):
                pass
        assert "Timeout." not in client.text
        await client.until("Timeout.", within=10)  # then silence: closed after 2 s
        await client.wait_closed()
    finally:
        await client.close()


async def test_a_client_that_never_reads_is_cut_off(start_server) -> None:
    server = await start_server(telnet_write_timeout=1.0)
    runtime = server.app.state.runtime
    client = await TelnetClient.open(telnet_port(server), rcvbuf=4096)
    name = unique_name("Sl")
    try:
        await sign_up(client, unique_name("acct"), PASSWORD, name)
        player = runtime.game.presence.find(name)
        assert player is not None
        session = runtime.hub.session_for(player.id)
        assert session is not None
        # the client stops reading; the game keeps talking to it
        line = "The fog whispers your name. " * 200
        for _ in range(2000):
            runtime.hub.to_player(player.id, {"type": "message", "channel": "system", "text": line})
            await asyncio.sleep(0)
        await asyncio.wait_for(session.closed.wait(), 10)
        # and the other players are not held up: a new client is served at once
        await _still_serving(server)
    finally:
        client.writer.transport.abort()


@pytest.mark.parametrize("answer", [b"quit\r\n"])
async def test_quit_at_the_first_question_says_goodbye(telnet, answer: bytes) -> None:
    client = await telnet()
    await client.until("Account name")
    client.send(answer)
    await client.until("Goodbye.")
    await client.wait_closed()


async def _open_from(port: int, address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((address, 0))
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


async def test_a_thousand_half_open_connections_leave_players_served_and_operators_see_them(
    start_server,
) -> None:
    server = await start_server(telnet_connections_per_ip=10)
    port = telnet_port(server)
    api = Api.to(server.base_url)
    try:
        api.admin = await new_account(api, "keeper")
        player = await TelnetClient.open(port)
        await sign_up(player, unique_name("acct"), PASSWORD, unique_name("Hb"))
        # 1,000 connections from 100 addresses that never answer, and 200 more refused
        silent = [
            await _open_from(port, f"127.0.{1 + n // 250}.{1 + n % 250}") for n in range(1000)
        ]
        refused = [await _open_from(port, "127.0.9.9") for _ in range(210)]
        assert b"Too many connections" in await refused[-1][0].read(200)
        # the player in the world is still answered at once, and a newcomer is greeted
        started = asyncio.get_running_loop().time()
        player.line("say still here")
        await player.until('You say, "still here"', within=5)
        assert asyncio.get_running_loop().time() - started < 0.5  # generous: "not stalled"
        await _still_serving(server)
        stats = await api.admin_stats()
        assert stats["telnet_connections"] >= 1000  # the half-open ones count, refused ones not
        assert stats["telnet_connections"] < 1000 + 20
        metrics = (await api.http.get("/metrics")).text
        assert "kadath_telnet_connections " in metrics
        for _, writer in silent + refused:
            writer.transport.abort()
        for _ in range(100):  # the server notices each close
            if (await api.admin_stats())["telnet_connections"] == 1:
                break
            await asyncio.sleep(0.1)
        assert (await api.admin_stats())["telnet_connections"] == 1
        await player.close()
    finally:
        await api.aclose()
