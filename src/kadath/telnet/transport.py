"""The game protocol spoken for a telnet client, as a Transport the real-time layer serves like
a WebSocket: typed lines become command frames, and the frames the Hub sends (read as they
are, never re-parsed) become text, a prompt and GMCP."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from telnetlib3.telopt import GMCP, IAC, SB, SE

from kadath.domain.world import World
from kadath.realtime.outgoing import Delivery
from kadath.realtime.protocol import CommandFrame
from kadath.realtime.transport import TransportClosed
from kadath.services.messenger import Frame
from kadath.telnet import gmcp, render
from kadath.telnet.chat import ChannelOf
from kadath.telnet.inventory import ChangesItems, InventoryFeed, ItemsOf
from kadath.telnet.terminal import Terminal
from kadath.telnet.terminal_io import TerminalIO, escaped

GMCP_RENDERING = "telnet-gmcp"
REPLY_PACKAGE = "Kadath.Reply"
# what telnetlib3's send_gmcp would make of {"n": n, "ok": ok}, without the JSON encoder
REPLY_GMCP = IAC + SB + GMCP + b'Kadath.Reply {"n":%d,"ok":%s}' + IAC + SE
REPLY_HEAD = IAC + SB + GMCP + b'Kadath.Reply {"n":'  # the same, in three pieces
REPLY_OK, REPLY_FAILED = b',"ok":true}' + IAC + SE, b',"ok":false}' + IAC + SE
_json_string = json.JSONEncoder(ensure_ascii=False).encode  # a str as a JSON string
KINDS_KEPT = 64  # first words of typed lines whose kind a connection keeps
PROMPTED = ("welcome", "room", "reply", "message", "channel", "event", "error")


@dataclass(frozen=True)
class GameView:
    """What every telnet connection reads of the game besides its frames."""

    world: World
    channel_of: ChannelOf
    changes_items: ChangesItems
    items_of: ItemsOf


class TelnetTransport:
    def __init__(self, io: TerminalIO, game: GameView, token: str, character: str) -> None:
        self._io, self._world, self._channel_of = io, game.world, game.channel_of
        self._changes_items = game.changes_items
        self._items = InventoryFeed(io, game.items_of)
        self.remote = io.remote
        self._name = character
        self._hello: str | None = json.dumps({"type": "hello", "token": token, "player": character})
        self._speaking: dict[str, str] = {}  # command id -> channel, until its reply
        self._handling: set[str] = set()  # ids of commands that may change the inventory
        self._ids = itertools.count(1)
        self._kinds: dict[str, tuple[str | None, bool]] = {}  # see _kind_of
        self._vitals: dict[str, Any] = {}
        self._prompt_due = False  # a prompt is to end the held burst
        self._at_prompt = False
        # (terminal, encoding, rendering key, text maker), and the prompt made for them
        self._text: tuple[Terminal, str, str, Callable[[Frame], bytes]] | None
        self._text = None
        self._prompt_text: bytes | None = None

    async def receive_text(self) -> str:
        """The hello first, then each typed line as a command frame's JSON (what a relay
        forwards). Raises TransportClosed."""
        frame = await self.receive_frame()
        if isinstance(frame, str):
            return frame
        return f'{{"type":"command","id":"{frame.id}","text":{_json_string(frame.text)}}}'

    async def receive_frame(self) -> str | CommandFrame:
        """The hello first (as JSON), then each typed line as a command, handed over as it
        is instead of through JSON. Raises TransportClosed."""
        if self._hello is not None:
            hello, self._hello = self._hello, None
            return hello
        while True:
            line = await self._io.read_line()
            self._at_prompt = False
            if line.too_long:
                await self._io.write_lines(["That line is too long; it was ignored."])
                self._prompt_soon()
            elif not line.text:
                self._prompt_soon()
            else:
                text = line.text
                command_id = f"t{next(self._ids)}"
                channel, changes_items = self._kind_of(text)
                if channel is not None:
                    self._speaking[command_id] = channel
                elif changes_items:
                    self._handling.add(command_id)
                return CommandFrame(command_id, text)

    def _kind_of(self, text: str) -> tuple[str | None, bool]:
        """The chat channel a typed line speaks on, and whether it may change the inventory:
        both depend on its first word only, so they are kept per first word (a player types
        the same few commands again and again)."""
        word = text.split(maxsplit=1)[0]
        known = self._kinds.get(word)
        if known is None:
            if len(self._kinds) >= KINDS_KEPT:
                self._kinds.clear()
            channel = self._channel_of(text)
            known = self._kinds[word] = (channel, channel is None and self._changes_items(text))
        return known

    def use_batches(self) -> None:
        """Nothing to agree: a batch is always written to the socket at once."""

    async def send_frames(self, batch: Sequence[Delivery]) -> None:
        """Show game frames: their text, GMCP and one prompt after them, in one socket
        write. A frame sent to a room is rendered (and encoded for the wire) once per
        terminal profile (width, colour depth, screen reader, encoding) and its GMCP encoded
        once, for every listener. Raises TransportClosed."""
        self._show(batch)
        await self._io.drain()

    def send_frames_now(self, batch: Sequence[Delivery]) -> bool:
        """``send_frames`` without waiting (``DirectTransport``): shown at once when the
        socket's buffer is far below its high-water mark, else nothing shown and False (the
        session's writer then sends it, and waits for the client)."""
        if not self._io.writes_at_once():
            return False
        try:
            self._show(batch)
        except TransportClosed:  # not taken: the writer's send meets the close again
            return False
        return True

    def _show(self, batch: Sequence[Delivery]) -> None:
        """Put ``batch``'s text, GMCP and prompt into this turn's held burst."""
        io = self._io
        if io.closed:
            raise TransportClosed
        # every piece goes through ``put`` (the held burst's append) up to the drain; the
        # prompt, if one is due, is made when the burst is released, at its end
        put = io.burst(self._show_prompt)
        prompted = False
        text_key, text_of = self._text_profile()
        gmcp_on = io.gmcp_on
        accepts, accepts_any = io.gmcp.accepts, io.gmcp.accepts_any
        for _seq, out in batch:
            frame = out.frame
            kind = frame.get("type")
            prompted = prompted or kind in PROMPTED
            own: list[gmcp.Message] = []
            if kind == "reply":
                if self._speaking or self._handling:  # else neither has anything to do
                    own = self._own_words(frame)
                    self._follow_reply(frame)
            elif kind in ("welcome", "state"):
                own = self._status_change(frame)
                self._remember_vitals(frame)
            elif kind == "event" and frame.get("event") == "died":
                self._items.refresh()
            if gmcp_on:
                made = gmcp.PACKAGES.get(kind, ())  # type: ignore[arg-type]
                if made and accepts_any(made):
                    for package, message in out.rendering(GMCP_RENDERING, self._gmcp_of):
                        if accepts(package):
                            put(message)
                for package, data in own:
                    io.send_gmcp(package, data)
            # a frame without text (a look's or a step's reply) shows nothing: not rendered
            if kind == "channel" or frame.get("text"):
                text: bytes = out.rendering(text_key, text_of)
                if text:
                    if self._at_prompt:
                        put(b"\r\n")  # do not run on after a prompt left open
                        self._at_prompt = False
                    put(text)
            if kind == "reply" and gmcp_on and accepts(REPLY_PACKAGE):
                ack = _acknowledgement(frame)
                if ack:
                    put(ack)
        if prompted:
            self._prompt_due = True  # made at the end of the held burst, in its one write

    def _text_profile(self) -> tuple[str, Callable[[Frame], bytes]]:
        """The rendering key of this client's terminal and encoding, and the function that
        makes a frame's text for it (both kept until the terminal or encoding changes)."""
        terminal, encoding = self._io.profile()
        if self._text is None or self._text[0] is not terminal or self._text[1] != encoding:
            errors = self._io.encoding_errors
            depth, reader = terminal.depth.value, terminal.screen_reader
            # a string: its hash is kept with it (a tuple's is worked out at every lookup)
            key = f"telnet|{terminal.width}|{depth}|{int(reader)}|{encoding}|{errors}"

            def make(frame: Frame) -> bytes:
                return _encoded_text(frame, terminal, encoding, errors, key)

            self._text = (terminal, encoding, key, make)
            self._prompt_text = None
        return self._text[2], self._text[3]

    def _gmcp_of(self, frame: dict[str, Any]) -> list[gmcp.Encoded]:
        return gmcp.encoded_frame(frame, self._world)

    async def close(self, code: int, reason: str) -> None:
        self._items.stop()
        self._prompt_due = False
        if reason and not self._io.closed:
            self._io.send_gmcp("Core.Goodbye", reason)
        await self._io.close()

    def abort(self) -> None:
        """Drop the connection at once (the session's writer gave up on a stuck client)."""
        self._items.stop()
        self._prompt_due = False
        self._io.abort()

    def _own_words(self, frame: dict[str, Any]) -> list[gmcp.Message]:
        """What the player said, for their chat tab: the reply to a say, emote or whisper."""
        channel = self._speaking.pop(str(frame.get("re")), None)
        if channel is None or not frame.get("ok") or not frame.get("text"):
            return []
        return [
            ("Comm.Channel.Text", {"channel": channel, "talker": self._name, "text": frame["text"]})
        ]

    def _follow_reply(self, frame: dict[str, Any]) -> None:
        """Char.Items.List after an item command's reply (and on entering: see
        ``_remember_vitals``; after a death: see ``send_frames``)."""
        re = str(frame.get("re"))
        if re in self._handling:
            self._handling.discard(re)
            if frame.get("ok"):
                self._items.refresh()

    def _status_change(self, frame: dict[str, Any]) -> list[gmcp.Message]:
        """Char.Status again when a state frame brings a new level."""
        level = (frame.get("vitals") or {}).get("level") if frame.get("type") == "state" else None
        if level is None or level == self._vitals.get("level"):
            return []
        return [("Char.Status", {"level": level, "profession": self._vitals.get("profession")})]

    def _remember_vitals(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "welcome":
            self._vitals.update(frame.get("player") or {})
            self._items.start(uuid.UUID(str((frame.get("player") or {}).get("id"))))
        elif frame.get("type") == "state":
            self._vitals.update(frame.get("vitals") or {})
        self._prompt_text = None

    def _prompt_soon(self) -> None:
        """One prompt after a burst of output (frames already queued are written first):
        written when the held output is, at its end."""
        self._prompt_due = True
        self._io.hold(before_release=self._show_prompt)

    def _show_prompt(self) -> None:
        if not self._prompt_due:
            return  # closed meanwhile
        self._prompt_due = False
        if self._io.closed or not self._vitals:
            return
        self._text_profile()  # forgets the prompt when the terminal changed
        if self._prompt_text is None:
            assert self._text is not None
            terminal, encoding = self._text[0], self._text[1]
            shown = render.prompt(self._vitals, terminal) + " "
            self._prompt_text = escaped(shown.encode(encoding, self._io.encoding_errors))
        self._io.show_encoded_prompt(self._prompt_text)
        self._at_prompt = True


def _acknowledgement(frame: Frame) -> bytes:
    """``Kadath.Reply`` after a reply's text, for scripts that match replies to the lines
    they typed (numbered from 1, counting the lines that became commands), for a client
    that takes it; nothing for a reply to something else."""
    re = frame.get("re")
    number = re[1:] if type(re) is str else str(re)[1:]
    if not number.isdigit():
        return b""
    if number.isascii() and number[0] != "0":  # as "%d" % int(number) writes it: the same
        return REPLY_HEAD + number.encode() + (REPLY_OK if frame.get("ok") else REPLY_FAILED)
    return REPLY_GMCP % (int(number), b"true" if frame.get("ok") else b"false")


def _encoded_text(frame: Frame, terminal: Terminal, encoding: str, errors: str, key: str) -> bytes:
    """A frame's lines as the wire carries them: CR LF after each, encoded, IAC doubled. A
    room view is kept per (its text, ``key``: the terminal profile), since every look and
    step sends one to one player, and the same room looks the same until something in it
    changes (which changes its text); so is a reply of several lines (help, who, score),
    per (its text, the profile, whether it is an error: the colour it takes)."""
    kind, text = frame.get("type"), frame.get("text")
    if not isinstance(text, str):
        return _made_text(frame, terminal, encoding, errors)
    kept: tuple[object, ...]
    if kind == "room":
        kept = (text, key)
    elif kind == "reply" and "\n" in text:
        kept = (text, key, frame.get("ok") is False)
    else:
        return _made_text(frame, terminal, encoding, errors)
    cached = _texts.get(kept)
    if cached is None:
        if len(_texts) >= TEXT_CACHE:
            _texts.clear()
        cached = _texts[kept] = _made_text(frame, terminal, encoding, errors)
    return cached


def _made_text(frame: Frame, terminal: Terminal, encoding: str, errors: str) -> bytes:
    lines = render.render(frame, terminal)
    if not lines:
        return b""
    return escaped(("\r\n".join(lines) + "\r\n").encode(encoding, errors))


# (a room view's or a long reply's text, terminal profile[, error]) -> its bytes on the wire;
# emptied when full
_texts: dict[tuple[object, ...], bytes] = {}
TEXT_CACHE = 4096
