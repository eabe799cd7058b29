"""kadath.listening: an address is bound here, a name is left to the loop."""

from __future__ import annotations

import asyncio
import socket

import pytest

from kadath.listening import listening_socket


def test_an_ipv4_address_is_bound_listening_and_non_blocking() -> None:
    sock = listening_socket("127.0.0.1", 0)
    assert sock is not None
    with sock:
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        assert sock.family == socket.AF_INET
        assert not sock.getblocking()
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        with socket.create_connection((host, port), timeout=5):
            pass  # it listens


def test_an_ipv6_address_is_bound_for_ipv6_only() -> None:
    try:
        sock = listening_socket("::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert sock is not None
    with sock:
        assert sock.family == socket.AF_INET6
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)


@pytest.mark.parametrize("host", ["localhost", "", "kadath.invalid"])
def test_a_name_or_no_host_is_left_to_the_loop(host: str) -> None:
    assert listening_socket(host, 0) is None


def test_a_taken_address_raises_and_leaves_no_socket_open() -> None:
    first = listening_socket("127.0.0.1", 0)
    assert first is not None
    with first:
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", first.getsockname()[1])


async def test_the_loop_serves_on_it() -> None:
    sock = listening_socket("127.0.0.1", 0)
    assert sock is not None
    server = await asyncio.start_server(lambda _reader, writer: writer.close(), sock=sock)
    address = sock.getsockname()
    async with server:
        reader, writer = await asyncio.open_connection(*address)
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
