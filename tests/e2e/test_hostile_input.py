"""Hostile frames over a real WebSocket: answered with an error, the connection stays open."""

from __future__ import annotations

from kadath_e2e import Connect


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
