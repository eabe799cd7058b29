"""Hostile frames over a real WebSocket: answered with an error, the connection stays open."""

from __future__ import annotations

from kadath_e2e import Api, Connect, GameClient, StartServer, new_character


async def test_deeply_nested_json_is_a_bad_frame_and_the_connection_stays_open(
    connect: Connect,
) -> None:
    alice = await connect()
    await alice.sync()
    depth = 2000  # within the frame length limit, deeper than json's recursion limit
    await alice.send_raw("[" * depth + "]" * depth)
    error = await alice.wait_type("error")
    assert error["code"] == "bad_frame"
    reply = await alice.command("look")
    assert reply["ok"] is True


async def test_one_address_may_hold_only_so_many_connections_that_have_not_said_hello(
    start_server: StartServer,
) -> None:
    server = await start_server(unauthenticated_connections_per_ip=3)
    api = Api.to(server.base_url)
    await new_character(api)  # the admin account is taken first
    first, late = await new_character(api), await new_character(api)
    silent = [await GameClient.open(server.ws_url) for _ in range(3)]
    try:
        extra = await GameClient.open(server.ws_url)
        error = await extra.wait_type("error")
        assert error["code"] == "busy"
        assert (await extra.wait_closed())[0] == 1013
        await silent[0].hello(first.token, first.name)  # one greets: a place frees up
        again = await GameClient.open(server.ws_url)
        await again.hello(late.token, late.name)
        await again.close()
    finally:
        for client in silent:
            await client.close()
        await api.aclose()
