"""Durations, roles and who may sanction whom."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kadath.domain.account import Account, Role
from kadath.domain.errors import Forbidden, InvalidInput
from kadath.domain.moderation import (
    Sanction,
    SanctionKind,
    check_may_sanction,
    clean_text,
    describe,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("1h30m", 5400),
        (" 2H ", 7200),
    ],
)
def test_durations_parse_to_their_length(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "-5m", "1.5h", "0m", "forever", "9999999d"])
def test_bad_durations_are_refused_with_the_shape_to_use(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


def test_forever_is_a_duration_only_where_allowed() -> None:
    assert parse_duration("forever", forever=True) is None
    assert parse_duration("PERMANENT", forever=True) is None
    with pytest.raises(InvalidInput, match="or 'forever'"):
        parse_duration("soon", forever=True)


def test_durations_are_described_in_two_units_at_most_rounded_up() -> None:
    assert describe(timedelta(minutes=9, seconds=58)) == "9m 58s"
    assert describe(timedelta(days=2, hours=3, minutes=4)) == "2d 3h"
    assert describe(timedelta(milliseconds=10)) == "1s"
    assert describe(timedelta(hours=1)) == "1h"


def test_roles_are_ordered_player_builder_moderator_admin() -> None:
    assert [r.value for r in sorted(Role, key=lambda r: r.rank)] == [
        "player",
        "builder",
        "moderator",
        "admin",
    ]
    assert Role.ADMIN.at_least(Role.BUILDER)
    assert Role.MODERATOR.at_least(Role.MODERATOR)
    assert not Role.BUILDER.at_least(Role.MODERATOR)
    assert not Role.PLAYER.at_least(Role.BUILDER)


def test_a_role_is_parsed_in_any_case_and_an_unknown_one_names_the_roles() -> None:
    assert Role.parse(" Moderator ") is Role.MODERATOR
    with pytest.raises(InvalidInput, match="player, builder, moderator, admin"):
        Role.parse("god")


def test_is_admin_is_derived_from_the_role() -> None:
    account = Account(uuid.uuid4(), "warden", "x", role=Role.ADMIN)
    assert account.is_admin
    assert not Account(uuid.uuid4(), "mod", "x", role=Role.MODERATOR).is_admin


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (Role.MODERATOR, Role.PLAYER, True),
        (Role.MODERATOR, Role.BUILDER, True),
        (Role.MODERATOR, Role.MODERATOR, False),
        (Role.MODERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.MODERATOR, True),
        (Role.ADMIN, Role.ADMIN, False),
    ],
)
def test_only_a_higher_role_may_sanction(actor: Role, target: Role, allowed: bool) -> None:
    if allowed:
        check_may_sanction(actor, target, same_account=False)
    else:
        with pytest.raises(Forbidden, match=f"to an? {target.value}"):
            check_may_sanction(actor, target, same_account=False)


def test_nobody_sanctions_their_own_account() -> None:
    with pytest.raises(Forbidden, match="yourself"):
        check_may_sanction(Role.ADMIN, Role.PLAYER, same_account=True)


def test_a_sanction_is_in_force_until_it_ends_and_says_how_long_is_left() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    mute = Sanction(
        uuid.uuid4(), uuid.uuid4(), SanctionKind.MUTE, "", start, start + timedelta(minutes=10)
    )
    assert mute.in_force(start + timedelta(minutes=9))
    assert mute.until(start + timedelta(seconds=2)) == "for another 9m 58s"
    assert not mute.in_force(start + timedelta(minutes=10))
    freeze = Sanction(uuid.uuid4(), uuid.uuid4(), SanctionKind.FREEZE, "", start)
    assert freeze.in_force(start + timedelta(days=900))
    assert freeze.until(start) == "until it is lifted"


def test_reasons_are_kept_on_one_line_and_bounded() -> None:
    assert clean_text("  spam\n\tand\x1b[31m more ", 50, "reason") == "spam and [31m more"
    with pytest.raises(InvalidInput, match="at most 5"):
        clean_text("too long", 5, "reason")
