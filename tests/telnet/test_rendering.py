"""The pure parts of telnet: typed lines, terminal features, rendering and GMCP messages."""

from __future__ import annotations

import pytest

from kadath.domain.world import Direction, Room, World, Zone
from kadath.telnet import gmcp, render
from kadath.telnet.lines import LineBuffer
from kadath.telnet.terminal import Depth, Mtts, Terminal, mtts_bits, terminal_of


# -- lines ---------------------------------------------------------------------------------
def test_lines_end_at_crlf_cr_nul_or_lf_and_backspaces_apply() -> None:
    buffer = LineBuffer(100)
    assert [line.text for line in buffer.feed("look\r\nsay hi\r\x00nort\x7fth\n")] == [
        "look",
        "say hi",
        "north",
    ]
    assert buffer.feed("half") == []
    assert [line.text for line in buffer.feed(" done\r")] == ["half done"]


def test_control_characters_are_dropped() -> None:
    (line,) = LineBuffer(100).feed("sa\x1b[31my\x07 \x00hi\x9b\n")
    assert line.text == "sa[31my hi"


def test_an_over_long_line_is_reported_once_and_never_held() -> None:
    buffer = LineBuffer(10)
    assert buffer.feed("x" * 5000) == []
    assert len(buffer._chars) == 0  # nothing over the limit is kept
    (line,) = buffer.feed("yyy\n")
    assert line.too_long and line.text == ""
    (line,) = buffer.feed("ok\n")
    assert not line.too_long and line.text == "ok"


# -- terminal ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ttypes", "depth"),
    [
        ((), Depth.NONE),
        (("xterm",), Depth.NONE),
        (("MUDLET", "ANSI", "MTTS 1"), Depth.ANSI),
        (("MUDLET", "ANSI-256COLOR", "MTTS 9"), Depth.PALETTE),
        (("MUDLET", "ANSI-TRUECOLOR", "MTTS 265"), Depth.TRUECOLOUR),
        (("TINTIN++", "ANSI", "MTTS 73"), Depth.NONE),  # a screen reader: no colour
    ],
)
def test_colour_depth_comes_from_mtts_bits(ttypes: tuple[str, ...], depth: Depth) -> None:
    assert Terminal(mtts=mtts_bits(ttypes)).depth is depth


def test_width_comes_from_naws_within_bounds() -> None:
    info = {"cols": 132, "ttype1": "MUDLET", "ttype3": "MTTS 64"}
    terminal = terminal_of(info.get)
    assert terminal.width == 132 and terminal.screen_reader
    assert terminal_of({"cols": 3}.get).width == 20
    assert terminal_of({}.get).width == 80
    assert Mtts.SCREEN_READER in terminal.mtts


# -- rendering -----------------------------------------------------------------------------
def test_text_wraps_to_the_width() -> None:
    frame = {"type": "message", "channel": "say", "text": "word " * 30}
    lines = render.render(frame, Terminal(width=40))
    assert len(lines) > 3 and all(len(line) <= 40 for line in lines)


def test_channels_are_coloured_at_the_clients_depth() -> None:
    frame = {"type": "message", "channel": "combat", "text": "The rat bites you."}
    assert render.render(frame, Terminal(mtts=Mtts.ANSI)) == ["\x1b[31mThe rat bites you.\x1b[0m"]
    (palette,) = render.render(frame, Terminal(mtts=Mtts.ANSI | Mtts.COLOURS_256))
    assert palette.startswith("\x1b[38;5;")
    (truecolour,) = render.render(frame, Terminal(mtts=Mtts.ANSI | Mtts.TRUECOLOUR))
    assert truecolour.startswith("\x1b[38;2;255;95;95m")
    assert render.render(frame, Terminal()) == ["The rat bites you."]


def test_a_screen_reader_gets_no_colour_no_decoration_and_a_spoken_prompt() -> None:
    reader = Terminal(mtts=Mtts.ANSI | Mtts.SCREEN_READER)
    room = {"type": "room", "text": "Hall\nA hall.\nExits: east.\nYou see a coin (×two)."}
    assert render.render(room, reader) == [
        "Hall",
        "A hall.",
        "Exits: east.",
        "You see a coin (two).",
    ]
    vitals = {"health": 5, "max_health": 20, "lucidity": 80, "max_lucidity": 100}
    assert render.prompt(vitals, reader) == "Health 5 of 20, lucidity 80 of 100."
    assert render.prompt(vitals, Terminal()) == "[HP 5/20 Luc 80/100] >"


def test_frames_without_text_show_nothing() -> None:
    assert render.render({"type": "state", "vitals": {}}, Terminal()) == []
    assert render.render({"type": "reply", "ok": True, "text": ""}, Terminal()) == []


# -- GMCP ----------------------------------------------------------------------------------
def _world() -> World:
    rooms = {
        "town.square": Room(
            "town.square", "town", "The Square", "Empty.", exits={Direction.EAST: "town.street"}
        ),
        "town.street": Room(
            "town.street", "town", "A Street", "Cobbles.", exits={Direction.WEST: "town.square"}
        ),
    }
    zones = {"town": Zone("town", "Arkham", "A town.")}
    return World(zones, rooms, {}, {}, {}, (), "town.square")


def test_room_numbers_are_stable_and_distinct() -> None:
    # fixed values: the same on every run and every machine (no per-process hash seed)
    assert gmcp.room_num("town.square") == gmcp.room_num("town.square")
    assert gmcp.room_num("town.square") != gmcp.room_num("town.street")
    assert gmcp.room_num("town.square") == 2029405973
    assert 0 < gmcp.room_num("x") < 2**31


def test_room_info_has_area_environment_and_numbered_exits() -> None:
    world = _world()
    frame = {"type": "room", "room": {"id": "town.square", "players": ["Ann"], "npcs": ["a rat"]}}
    found = dict(gmcp.messages(frame, world))
    assert found["Room.Info"] == {
        "num": gmcp.room_num("town.square"),
        "name": "The Square",
        "area": "Arkham",
        "environment": "town",
        "exits": {"e": gmcp.room_num("town.street")},
    }
    assert found["Room.Players"] == [{"name": "Ann", "fullname": "Ann"}]
    assert found["Room.Npcs"] == [{"name": "a rat"}]


def test_vitals_chat_and_comings_and_goings() -> None:
    world = _world()
    state = {"type": "state", "vitals": {"health": 3, "max_health": 9, "lucidity": 70}}
    ((package, vitals),) = gmcp.messages(state, world)
    assert package == "Char.Vitals" and vitals["hp"] == 3 and vitals["maxhp"] == 9
    assert vitals["string"] == "HP 3/9 Luc 70/100"
    say = {"type": "message", "channel": "say", "from": "Ann", "text": 'Ann says, "hi"'}
    assert gmcp.messages(say, world) == [
        ("Comm.Channel.Text", {"channel": "say", "talker": "Ann", "text": 'Ann says, "hi"'})
    ]
    assert gmcp.messages({"type": "message", "channel": "combat", "text": "x"}, world) == []
    came = {"type": "event", "event": "arrived", "name": "Bo", "text": "Bo arrives."}
    assert gmcp.messages(came, world) == [("Room.AddPlayer", {"name": "Bo", "fullname": "Bo"})]
    rat = {"type": "event", "event": "left", "name": "a rat", "npc": True, "text": "It goes."}
    assert gmcp.messages(rat, world) == [("Room.RemoveNpc", {"name": "a rat"})]


def test_only_packages_the_client_supports_are_accepted() -> None:
    client = gmcp.GmcpClient()
    assert client.accepts("Core.Goodbye")
    assert not client.accepts("Char.Vitals")
    client.receive("Core.Supports.Set", ["Char 1", "Comm.Channel 1"])
    assert client.accepts("Char.Vitals") and client.accepts("Comm.Channel.Text")
    assert not client.accepts("Room.Info")
    client.receive("Core.Supports.Add", ["Room 1"])
    assert client.accepts("Room.Info")
    client.receive("Core.Supports.Remove", ["Char"])
    assert not client.accepts("Char.Vitals")
    assert client.receive("Core.Ping", None) == [("Core.Ping", None)]
    client.receive("Core.Supports.Set", "not a list")
    assert client.packages == set()


def test_the_channel_of_a_typed_command() -> None:
    from kadath.commands.table import build_command_table
    from kadath.telnet.chat import channel_finder

    channel_of = channel_finder(build_command_table())
    assert channel_of("say hello") == "say"
    assert channel_of("'hello") == "say"
    assert channel_of(":waves") == "emote"
    assert channel_of("me waves") == "emote"
    assert channel_of("tell Ann hi") == "whisper"
    assert channel_of("look") is None
    assert channel_of("") is None
