"""KadathReader.read_text gives what telnetlib3's read gives when asked for more than the
reader holds: the decoded text received so far, "" at the end, the stream's error raised."""

from __future__ import annotations

import asyncio

import pytest

from kadath.telnet.protocol import KadathReader


def _reader() -> KadathReader:
    return KadathReader(lambda **_: "utf8", encoding_errors="replace")


async def test_read_text_waits_for_data_and_decodes_split_characters() -> None:
    reader = _reader()
    waiting = asyncio.ensure_future(reader.read_text())
    await asyncio.sleep(0)
    assert not waiting.done()
    reader.feed_data("look é".encode()[:-1])  # the é cut in two
    assert await waiting == "look "
    reader.feed_data("é".encode()[-1:] + b"\r\n")
    assert await reader.read_text() == "é\r\n"
    reader.feed_data(b"say hi\r\n")
    reader.feed_data(b"north\r\n")
    assert await reader.read_text() == "say hi\r\nnorth\r\n"  # everything held, at once
    reader.feed_eof()
    assert await reader.read_text() == ""


async def test_read_text_matches_read_and_raises_the_stream_error() -> None:
    ours, theirs = _reader(), _reader()
    for chunk in (b"a", "\u00ff\u20ac".encode(), b"\xff\xfe bad", b"\r\n"):
        ours.feed_data(chunk)
        theirs.feed_data(chunk)
        assert await ours.read_text() == await theirs.read(1 << 20)
    ours.set_exception(ConnectionResetError())
    with pytest.raises(ConnectionResetError):
        await ours.read_text()


async def test_a_second_waiting_read_is_refused() -> None:
    reader = _reader()
    first = asyncio.ensure_future(reader.read_text())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await reader.read_text()
    reader.feed_eof()
    assert await first == ""
