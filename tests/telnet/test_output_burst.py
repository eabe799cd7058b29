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
