"""Channel rules: names and aliases, who may join, and the default settings."""

from __future__ import annotations

import pytest
from testkit import player_named

from kadath.domain.account import Role
from kadath.domain.channel import (
    CHANNELS,
    Membership,
    can_join,
    check_can_join,
    find_channel,
    membership,
)
from kadath.domain.errors import NotAllowed, NotFound


def test_channels_are_found_by_name_or_alias_in_any_case() -> None:
    assert find_channel("OOC").name == "ooc"
    assert find_channel("staff").name == "builders"
    with pytest.raises(NotFound, match="Channels: ooc, newbie, builders"):
        find_channel("gossip")


def test_builders_and_above_may_join_the_staff_channel() -> None:
    player, builder, admin = player_named("Alice"), player_named("Mason"), player_named("Keeper")
    builder.role, admin.role = Role.BUILDER, Role.ADMIN
    builders = find_channel("builders")

    assert not can_join(builders, player)
    assert can_join(builders, builder)
    assert can_join(builders, admin)
    assert all(can_join(c, player) for c in CHANNELS if c is not builders)
    with pytest.raises(NotAllowed, match="staff only"):
        check_can_join(builders, player)


def test_a_character_that_never_changed_a_setting_is_on_every_channel_unmuted() -> None:
    for channel in CHANNELS:
        assert membership(channel, {}) == Membership(channel.name, joined=True, muted=False)


def test_a_stored_setting_wins_over_the_default_and_muting_stops_listening() -> None:
    stored = {"ooc": Membership("ooc", joined=False), "newbie": Membership("newbie", True, True)}

    assert not membership(find_channel("ooc"), stored).listening
    assert membership(find_channel("newbie"), stored).joined
    assert not membership(find_channel("newbie"), stored).listening
