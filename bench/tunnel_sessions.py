"""The holder's CPU per relayed ``say``, in one process (no NATS, no sockets): 200 sessions on
gathering tunnels (``TunnelTransport`` with a relay's ``Demux`` subject, as ``kadath serve
--cluster`` makes them), each ``say`` a reply to the speaker and the speech to 5 listeners
woken after the turn (as the Hub does), until the ``Outbox`` has published the loop turn's
NATS message (a stand-in client counts them).

    python3 -m uv run --frozen python bench/tunnel_sessions.py

To compare with older code, put its ``src`` first: ``PYTHONPATH=/path/to/old/src``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from kadath.cluster.tunnel import TunnelTransport
from kadath.domain.account import Account
from kadath.realtime.outgoing import Outgoing
from kadath.realtime.session import Session

SESSIONS, LISTENERS, SAYS = 200, 5, 3000


class CountingNats:
    """What a tunnel uses of a NATS client: publishing counts, nothing leaves."""

    is_closed = False

    def __init__(self) -> None:
        self.messages = 0

    async def publish(self, subject: str, data: bytes) -> None:
        self.messages += 1

    async def subscribe(self, *args: Any, **kwargs: Any) -> None:
        return None


async def run() -> tuple[float, int]:
    nats = CountingNats()
    account = Account(uuid.uuid4(), "someone", "x")
    sessions = []
    for n in range(SESSIONS):
        tunnel = TunnelTransport(
            nats,  # type: ignore[arg-type]
            uuid.UUID(int=n).hex,
            "relay",
            "hello",
            heartbeat=60,
            silence=60,
            relay="kadath.relay.bench.out",
        )
        session = Session(tunnel, account, uuid.uuid4())
        session.start()
        sessions.append(session)
    await asyncio.sleep(0.01)  # every writer waits
    speech = {"type": "message", "channel": "say", "from": "Alice", "text": 'Alice says, "hi"'}
    started = time.process_time()
    for n in range(SAYS):
        heard = Outgoing(dict(speech))
        listeners = [sessions[(n + k) % SESSIONS] for k in range(1, LISTENERS + 1)]
        for listener in listeners:  # the Hub's fan-out: woken after the turn
            listener.deliver(heard, wake=False)
        asyncio.get_running_loop().call_soon(lambda ls=listeners: [s.wake() for s in ls])
        sessions[n % SESSIONS].send({"type": "reply", "re": f"c{n}", "ok": True, "text": "Said."})
        for _ in range(3):  # the wake, the writers (older code), the Outbox's publish
            await asyncio.sleep(0)
    spent = time.process_time() - started
    for session in sessions:
        await session.stop(0.1)
    return spent / SAYS * 1e6, nats.messages


def main() -> None:
    best, messages = min(asyncio.run(run()) for _ in range(5))
    print(f"{best:.1f} µs per say ({LISTENERS + 1} frames), {messages / SAYS:.2f} NATS messages")


if __name__ == "__main__":
    main()
