"""Listening sockets bound here, so the event loop never resolves an address it was given.

uvloop resolves every ``create_server(host=..., port=...)`` on libuv's thread pool, even an IP
address: the first call starts that pool's four threads, which then idle for the life of the
process holding ~0.45 MiB (stacks, malloc arenas; docs/performance.md, "Idle memory, fifth
pass"). Kadath listens on addresses (127.0.0.1 unless configured otherwise), so it binds
those itself and hands the loop the socket; a host *name* is still left to the loop.
"""

from __future__ import annotations

import ipaddress
import socket

BACKLOG = 2048  # uvicorn's default; telnet's listener takes the same


def listening_socket(host: str, port: int, backlog: int = BACKLOG) -> socket.socket | None:
    """A non-blocking socket listening on ``host:port`` when ``host`` is an IP address, bound as
    asyncio's ``create_server`` binds one (``SO_REUSEADDR``; an IPv6 address only for IPv6);
    None for a host name or an empty host (all interfaces), which the caller passes to the loop.
    Raises OSError as binding does (the address is taken, not ours...)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
