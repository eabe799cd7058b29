"""``leases.settled``: once it returns, the NATS server has every command the connection sent
before it (its subscriptions first), so another connection's message is delivered to them.

nats-py's ``Client.flush`` does not say so: its PING is written to the socket at once, ahead
of a ``SUB`` still queued for the connection's flusher task, so the PONG can come back before
the server has read the ``SUB`` (a message another connection publishes meanwhile reaches no
subscriber). A fake server here records the order in which the commands arrive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import nats
import pytest

from kadath.cluster.leases import settled


class FakeNats:
    """Just enough of a NATS server for one client: the commands in the order received,
    PING answered by PONG, a PUB delivered to the connection's own matching SUBs (echo)."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.answered: list[int] = []  # at each answer (PONG, MSG): how many commands were read
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"nats://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        info = {"server_id": "fake", "version": "2.9.10", "proto": 1, "headers": True}
        writer.write(f"INFO {json.dumps(info)}\r\n".encode())
        subs: dict[str, str] = {}  # subject -> sid
        try:
            while line := await reader.readline():
                command = line.decode().rstrip("\r\n")
                self.commands.append(command)
                op, *args = command.split(" ")
                if op == "PING":
                    writer.write(b"PONG\r\n")
                    self.answered.append(len(self.commands))
                elif op == "SUB":
                    subs[args[0]] = args[-1]
                elif op == "PUB":
                    payload = await reader.readexactly(int(args[-1]) + 2)
                    sid = subs.get(args[0])
                    if sid is not None:
                        writer.write(f"MSG {args[0]} {sid} {args[-1]}\r\n".encode() + payload)
                        self.answered.append(len(self.commands))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def fake_nats() -> AsyncIterator[FakeNats]:
    server = FakeNats()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_once_settled_the_server_has_read_the_subscriptions_made_before(
    fake_nats: FakeNats,
) -> None:
    nc = await nats.connect(fake_nats.url, allow_reconnect=False)
    try:
        await nc.subscribe("kadath.relay.r1.out")
        await settled(nc)
        # What the server had read when it gave the last answer settled waited for
        read = fake_nats.commands[: fake_nats.answered[-1]]
    finally:
        await nc.close()
    assert "SUB kadath.relay.r1.out  1" in read
