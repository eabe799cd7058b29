"""A WebSocket client that greets, then never reads again: a tiny receive buffer on a raw
socket, so the server's writes back up as they would to a stalled phone on a bad network."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct

RECEIVE_BUFFER = 4096


def _masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


class StuckClient:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    async def greet(cls, port: int, token: str, name: str, within: float = 5.0) -> StuckClient:
        """Connect, upgrade to WebSocket, say hello and read up to the welcome; no more."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.setblocking(False)
        async with asyncio.timeout(within):
            await loop.sock_connect(sock, ("127.0.0.1", port))
            key = base64.b64encode(os.urandom(16)).decode()
            request = (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            )
            await loop.sock_sendall(sock, request.encode())
            response = b""
            while b"\r\n\r\n" not in response:
                response += await loop.sock_recv(sock, 1)
            if not response.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(f"the upgrade was refused: {response!r}")
            hello = json.dumps({"type": "hello", "token": token, "player": name})
            await loop.sock_sendall(sock, _masked_text_frame(hello))
            seen = b""
            while b'"type":"welcome"' not in seen:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    raise ConnectionError(f"closed before the welcome: {seen[-300:]!r}")
                seen += chunk
        return cls(sock)

    async def wait_reset(self, within: float) -> bytes:
        """Read everything the server left queued until it closes (or resets) the socket."""
        loop = asyncio.get_running_loop()
        data = b""
        async with asyncio.timeout(within):
            while True:
                try:
                    chunk = await loop.sock_recv(self.sock, 65536)
                except ConnectionResetError:
                    return data
                if not chunk:
                    return data
                data += chunk

    def close(self) -> None:
        self.sock.close()
