"""Signing in over telnet follows the REST API's rules: invites, rate limits, the same
characters; idle connections are closed and shutdown is announced."""

from __future__ import annotations

from kadath_e2e import PASSWORD, Api, new_account, new_character, unique_name
from kadath_telnet import TelnetClient, sign_up, telnet_port


async def _log_in(client: TelnetClient, username: str, password: str = PASSWORD) -> None:
    await client.until("Account name")
    client.line(username)
    await client.until("Password:")
    client.line(password)


async def test_a_wrong_password_is_refused_and_logins_are_rate_limited(start_server) -> None:
    server = await start_server(login_rate_limit="2/minute")
    client = await TelnetClient.open(telnet_port(server))
    try:
        for _ in range(2):
            await _log_in(client, "nobodyhere", "not the password")
            await client.until("Wrong username or password.")
        await _log_in(client, "nobodyhere", "not the password")
        await client.until("Too many login attempts")
        await client.until("Too many attempts; goodbye.")
        await client.wait_closed()
    finally:
        await client.close()


async def test_invite_mode_needs_a_valid_invite_code(start_server) -> None:
    server = await start_server(registration="invite")
    api = Api.to(server.base_url)
    client = await TelnetClient.open(telnet_port(server))
    try:
        await new_account(api, "keeper")  # the first account, free of invites
        await client.until("Account name")
        client.line("new")
        await client.until("Invite code:")
        client.line("")
        await client.until("Choose an account name:")
        client.line(unique_name("acct"))
        for question in ("Choose a password:", "Type the password again:"):
            await client.until(question)
            client.line(PASSWORD)
        await client.until("Registration needs an invite code.")
        await client.until("Account name")
    finally:
        await client.close()
        await api.aclose()


async def test_an_existing_character_is_chosen_by_number(telnet, server) -> None:
    api = Api.to(server.base_url)
    try:
        await new_account(api, "keeper")
        character = await new_character(api)
    finally:
        await api.aclose()
    client = await telnet()
    await _log_in(client, character.account.username)
    await client.until(f"1. {character.name}, level 1")
    client.line("1")
    await client.until(f"Welcome to Kadath, {character.name}.")
    await client.until("<GA>")  # the first prompt
    client.line("who")
    assert character.name in await client.until("<GA>")


async def test_an_idle_player_is_disconnected(start_server) -> None:
    server = await start_server(telnet_idle_timeout=1)
    client = await TelnetClient.open(telnet_port(server))
    try:
        await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Id"))
        await client.wait_closed(within=10)
        assert "Timeout." in client.text
    finally:
        await client.close()


async def test_shutdown_is_announced_to_telnet_players(telnet, server) -> None:
    client = await telnet()
    await sign_up(client, unique_name("acct"), PASSWORD, unique_name("Sd"))
    await server.stop()
    await client.until("The server is shutting down")
    await client.wait_closed()
