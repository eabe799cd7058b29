"""Speech is stripped of control characters and bidi overrides before anyone reads it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from testkit import player_named

from kadath.services.chat import _BIDI, ChatService, _visible
from kadath.services.events import LocalEventBus
from kadath.services.messenger import FakeMessenger
from kadath.services.presence import Presence

HOSTILE = [
    "\x1b[2J",  # an ANSI escape (C0)
    "\x07",
    "\x9b31m",  # CSI (C1)
    "\x85",
    "\u202e",  # right-to-left override
    "\u202a",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]


@pytest.fixture
def chat() -> tuple[ChatService, FakeMessenger, Presence]:
    presence, messenger = Presence(), FakeMessenger()
    return ChatService(presence, messenger, LocalEventBus()), messenger, presence


def _clean(text: str) -> bool:
    return not any(bad in text for bad in HOSTILE) and "\x1b" not in text and "\x9b" not in text


@pytest.mark.parametrize("bad", HOSTILE)
async def test_say_emote_and_whisper_drop_controls_and_bidi_overrides(
    chat: tuple[ChatService, FakeMessenger, Presence], bad: str
) -> None:
    service, messenger, presence = chat
    alice, bob = player_named("Alice"), player_named("Bob")
    presence.enter(alice)
    presence.enter(bob)
    text = f"hello{bad}there"
    replies = [
        await service.say(alice, text),
        service.emote(alice, text),
        service.whisper(alice, "Bob", text),
    ]
    heard = [str(frame.get("text")) for _, _, frame in messenger.sent]
    assert len(heard) == 3
    for line in replies + heard:
        assert _clean(line), repr(line)
        assert "hello" in line and "there" in line


async def test_ordinary_unicode_speech_is_kept(
    chat: tuple[ChatService, FakeMessenger, Presence],
) -> None:
    service, _, _ = chat
    said = await service.say(player_named("Alice"), "café – ☕ 👩‍🔬 שלום")
    assert said == 'You say, "café – ☕ 👩‍🔬 שלום"'


def _visible_char_by_char(text: str) -> str:
    """What speech showed before it skipped clean text: every character looked at."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text if c not in _BIDI)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(HOSTILE))
def test_speech_shows_exactly_what_a_look_at_each_character_would(text: str) -> None:
    assert _visible(text) == _visible_char_by_char(text)
