"""The relay's CPU per holder frame, in one process (no NATS, no sockets): take an ``F`` message
apart, strike out the answered command ids (``Owed``), number the frames (``Numbering``) and
make the text a WebSocket client is sent, for three typical frames (a reply, a room, a say);
and, where the code has it, the WebSocket client's path that makes the texts directly
(``Numbering.texts``).

    python3 -m uv run --frozen python bench/relay_frames.py

To compare with older code, put its ``src`` first: ``PYTHONPATH=/path/to/old/src``.
"""

from __future__ import annotations

import timeit

from kadath.cluster import tunnel
from kadath.cluster.failover import Owed
from kadath.realtime.outgoing import Outgoing

FRAMES = [
    {"type": "reply", "re": "c12", "ok": True, "text": "You look around.\nA dim hall."},
    {
        "type": "room",
        "id": "arkham:hall",
        "name": "The Hall",
        "text": "A dim hall with a long table. " * 4,
        "exits": ["north", "south"],
        "here": ["Alice", "Bob", "Carol"],
    },
    {"type": "message", "channel": "say", "from": "Alice", "text": 'Alice says, "hello"'},
]
MESSAGES = [tunnel.encode_frames([(n, Outgoing(frame))]) for n, frame in enumerate(FRAMES, 1)]
TAGGED = hasattr(tunnel, "Relayed")  # this code passes the holder's encoding on


def relay() -> None:
    owed, numbering = Owed(1000), tunnel.Numbering()
    owed.ids.append("c12")
    for message in MESSAGES:
        decoded = tunnel.decode_frames(message[1:])
        if TAGGED:
            for _seq, frame in decoded:
                if frame.kind:
                    owed.answered(frame.kind, frame.re)
        else:
            owed.answered(decoded)  # type: ignore[call-arg]
        for seq, frame in numbering.number(decoded):
            frame.text(seq)


def relay_texts() -> None:
    """A WebSocket client's path since the relay hands it texts (``Numbering.texts``)."""
    owed, numbering = Owed(1000), tunnel.Numbering()
    owed.ids.append("c12")
    for message in MESSAGES:
        numbering.texts(message[1:], owed)  # type: ignore[attr-defined]


def main() -> None:
    runs = 20_000
    best = min(timeit.repeat(relay, number=runs, repeat=7))
    print(f"{'tagged' if TAGGED else 'decoded'}: {best / runs / len(FRAMES) * 1e6:.2f} µs a frame")
    if hasattr(tunnel.Numbering, "texts"):
        best = min(timeit.repeat(relay_texts, number=runs, repeat=7))
        print(f"texts (WebSocket): {best / runs / len(FRAMES) * 1e6:.2f} µs a frame")


if __name__ == "__main__":
    main()
