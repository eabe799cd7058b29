"""The real-time layer's CPU per delivered frame, without sockets: Hub, Session and its writer.

    uv run python bench/fanout.py [--listeners 24] [--messages 5000] [--repeat 5]

One process, uvloop. ``--listeners`` sessions stand in one room, each with a transport that
does what the WebSocket transport does with a batch short of the socket write (the JSON text
of each frame, joined into one array). One of them says something ``--messages`` times; each
time the room's copies are fanned out, the speaker gets a reply, and the loop runs until every
writer has taken its frames. Printed: process CPU per delivered frame (fan-out, queueing,
waking the writer, the writer's turn and the encoding), the median of ``--repeat`` runs. Compare
two checkouts by putting the other one's ``src`` first on ``PYTHONPATH``; CPU time, unlike wall
time, is little moved by other work on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from testkit import player_named

from kadath.realtime.hub import Hub
from kadath.realtime.session import Session
from kadath.services.presence import Presence


class NullTransport:
    """Encodes a batch as the WebSocket transport does; sends nothing."""

    remote = "bench"

    def __init__(self) -> None:
        self.frames = 0

    async def receive_text(self) -> str:
        await asyncio.Event().wait()
        return ""

    async def send_frames(self, batch: Sequence[Any]) -> None:
        text = ",".join([frame.text(seq) for seq, frame in batch])
        _ = f"[{text}]"
        self.frames += len(batch)

    def use_batches(self) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass

    def abort(self) -> None:
        pass


async def run(listeners: int, messages: int) -> float:
    presence = Presence()
    hub = Hub(presence, grace_seconds=30)
    players = [
        player_named(f"P{chr(97 + n % 26)}{chr(97 + n // 26 % 26)}") for n in range(listeners)
    ]
    transports = []
    sessions = []
    for player in players:
        presence.enter(player)
        transport = NullTransport()
        session = Session(transport, None, player.id)  # type: ignore[arg-type]
        hub.attach(session)
        session.start()
        transports.append(transport)
        sessions.append(session)
    speaker, room = players[0], players[0].room_id
    await asyncio.sleep(0)
    started = time.process_time()
    for n in range(messages):
        text = f'{speaker.name} says, "hello number {n}"'
        hub.to_room(
            room,
            {"type": "message", "channel": "say", "from": speaker.name, "text": text},
            exclude=[speaker.id],
        )
        sessions[0].send(
            {"type": "reply", "re": str(n), "ok": True, "text": f'You say, "hello number {n}"'}
        )
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    for _ in range(100_000):  # the writers' turns, until every queue is empty
        if not any(s.backlog for s in sessions):
            break
        await asyncio.sleep(0)
    spent = time.process_time() - started
    delivered = sum(t.frames for t in transports)
    assert delivered == messages * listeners, (delivered, messages * listeners)
    for session in sessions:
        session.close(1000, "")
    await asyncio.gather(*(s.stop(1) for s in sessions))
    return spent / delivered * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=24)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import uvloop

    runs = [uvloop.run(run(args.listeners, args.messages)) for _ in range(args.repeat)]
    print(
        f"{args.listeners} listeners, {args.messages} messages: "
        f"{statistics.median(runs):.2f} µs of CPU per delivered frame "
        f"(runs: {', '.join(f'{r:.2f}' for r in runs)})"
    )


if __name__ == "__main__":
    main()
