from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kadath.realtime.protocol import BadFrame, CommandFrame, Hello, Ping, parse


def test_a_command_frame_is_parsed() -> None:
    frame = parse(json.dumps({"type": "command", "id": "c1", "text": "say hi"}), max_line=1000)
    assert frame == CommandFrame(id="c1", text="say hi")


def test_numeric_ids_become_strings() -> None:
    frame = parse(json.dumps({"type": "command", "id": 7, "text": "look"}), max_line=1000)
    assert isinstance(frame, CommandFrame) and frame.id == "7"


def test_hello_and_ping_are_parsed() -> None:
    assert parse('{"type":"ping"}', max_line=10) == Ping()
    hello = parse('{"type":"hello","token":"t","player":"Alice"}', max_line=1000)
    assert hello == Hello(token="t", player="Alice")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "command", "text": "look"}', "bad_frame"),
        ('{"type": "command", "id": true, "text": "look"}', "bad_frame"),
        ('{"type": "command", "id": "c", "text": 5}', "bad_frame"),
        ('{"type": "command", "id": "' + "x" * 65 + '", "text": "look"}', "bad_frame"),
        ('{"type": "hello", "token": "t"}', "bad_frame"),
    ],
)
def test_malformed_frames_are_refused_with_a_code(raw: str, code: str) -> None:
    with pytest.raises(BadFrame) as caught:
        parse(raw, max_line=1000)
    assert caught.value.code == code


def test_an_over_long_line_is_refused() -> None:
    raw = json.dumps({"type": "command", "id": "c", "text": "say " + "a" * 1000})
    with pytest.raises(BadFrame) as caught:
        parse(raw, max_line=1000)
    assert caught.value.code == "too_long"


def test_a_huge_frame_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(BadFrame) as caught:
        parse("x" * 10_000, max_line=1000)
    assert caught.value.code == "too_long"


def test_control_characters_are_stripped_from_commands() -> None:
    frame = parse(
        json.dumps({"type": "command", "id": "c", "text": "say \x1b[31mred"}), max_line=100
    )
    assert isinstance(frame, CommandFrame) and frame.text == "say [31mred"


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40))
def test_exactly_the_controls_but_the_tab_are_stripped_from_commands(text: str) -> None:
    frame = parse(json.dumps({"type": "command", "id": "c", "text": text}), max_line=100)
    kept = "".join(c for c in text if ord(c) >= 32 or c == "\t")
    assert isinstance(frame, CommandFrame) and frame.text == kept


def test_a_refused_command_names_its_id_so_the_client_can_match_it() -> None:
    raw = json.dumps({"type": "command", "id": "c9", "text": "x" * 2000})
    with pytest.raises(BadFrame) as caught:
        parse(raw, max_line=1000)
    assert caught.value.re == "c9"


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_a_bad_frame(depth: int) -> None:
    for raw in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        with pytest.raises(BadFrame) as caught:
            parse(raw, max_line=1_000_000)
        assert caught.value.code == "bad_frame"


def test_a_command_nested_a_little_is_still_understood() -> None:
    raw = json.dumps({"type": "command", "id": "c1", "text": "look", "extra": [[[{"a": [1]}]]]})
    assert parse(raw, max_line=1000) == CommandFrame(id="c1", text="look")


def test_a_hello_may_ask_to_follow_moved_frames() -> None:
    """Protocol 4: ``follow`` true, and only true, asks for ``moved`` frames."""
    base = {"type": "hello", "token": "t", "player": "Armitage"}
    assert parse(json.dumps({**base, "follow": True}), max_line=100) == Hello(
        "t", "Armitage", follow=True
    )
    for other in ("true", 1, None, False):
        assert parse(json.dumps({**base, "follow": other}), max_line=100) == Hello("t", "Armitage")
    assert parse(json.dumps(base), max_line=100) == Hello("t", "Armitage")
