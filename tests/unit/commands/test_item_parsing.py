"""Splitting "get <item> from <container>" and "put <item> in <container>" lines."""

from __future__ import annotations

import pytest

from kadath.commands.items import split_target


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("coin", ("coin", None)),
        ("2.coin", ("2.coin", None)),
        ("coin from chest", ("coin", "chest")),
        ("all from sea chest", ("all", "sea chest")),
        ("coin FROM chest", ("coin", "chest")),
        ("coin from", ("coin", "")),
        ("from chest", ("from chest", None)),
        ("  all.coin   from   crate ", ("all.coin", "crate")),
    ],
)
def test_get_lines_split_at_the_last_from(args: str, expected: tuple[str, str | None]) -> None:
    assert split_target(args, "from") == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("coin in satchel", ("coin", "satchel")),
        ("coin into chest", ("coin", "chest")),
        ("all inside crate", ("all", "crate")),
        ("coin satchel", ("coin satchel", None)),
    ],
)
def test_put_lines_split_at_in_into_or_inside(args: str, expected: tuple[str, str | None]) -> None:
    assert split_target(args, "into", "in", "inside") == expected
