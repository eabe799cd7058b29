"""A burst of output (text, GMCP, prompt, EOR) leaves in one socket write."""

from __future__ import annotations

import asyncio
from typing import Any

from kadath.telnet.protocol import KadathWriter


class FakeSocketTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False


async def test_held_output_is_written_once_on_the_next_turn_of_the_loop() -> None:
    socket = FakeSocketTransport()
    writer = KadathWriter(socket, None, lambda **_: "utf8", server=True)
    writer.write("plain text\r\n")  # not held: at once
    assert socket.writes == [b"plain text\r\n"]
    writer.hold()
    writer.write("one\r\n")
    writer.send_iac(b"\xff\xef")  # IAC EOR
    writer.write("two\r\n")
    assert len(socket.writes) == 1
    await asyncio.sleep(0)
    assert socket.writes[1:] == [b"one\r\n\xff\xeftwo\r\n"]
    writer.hold()
    writer.write("bye\r\n")
    writer.release()  # as close does
    assert socket.writes[2:] == [b"bye\r\n"]


class CountingProtocol:
    _tx_bytes = 0


async def test_a_burst_is_counted_as_sent_and_dropped_once_the_socket_closes() -> None:
    socket = FakeSocketTransport()
    protocol = CountingProtocol()
    writer = KadathWriter(socket, protocol, lambda **_: "utf8", server=True)
    put = writer.hold()
    put(b"held ")
    writer.write("text\r\n")
    await asyncio.sleep(0)
    assert socket.writes == [b"held text\r\n"]
    assert protocol._tx_bytes == len(b"held text\r\n")  # as telnetlib3's send_iac counts
    writer.hold()
    writer.write("never sent\r\n")
    writer._connection_closed = True
    await asyncio.sleep(0)
    assert socket.writes == [b"held text\r\n"]
