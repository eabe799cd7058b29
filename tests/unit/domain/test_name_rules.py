"""Character names: ASCII letters (with an inner apostrophe or hyphen), matched in full."""

from __future__ import annotations

import pytest

from kadath.domain.errors import InvalidName
from kadath.domain.player import name_key, validate_name


@pytest.mark.parametrize("name", ["Carter", "O'Neil", "Jean-Luc", "abc"])
def test_plain_letter_names_are_accepted(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Carter\n",  # "$" would match before this newline
        "Carter\r\n",
        "\nCarter",
        "Car\u200bter",  # zero-width space
        "Carter\u202e",  # right-to-left override
        "Car\u2066ter",
        "Cart\u00e9r",  # NFC é: not ASCII
        "Carte\u0301r",  # a combining accent
        "\u0421arter",  # a Cyrillic С that looks like a Latin C
        "\uff23arter",  # a fullwidth C
        "Carter ",
        "Car ter",
        "1Carter",
    ],
)
def test_names_with_anything_but_ascii_letters_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_name(name)


def test_the_name_key_ignores_case() -> None:
    assert name_key("Carter") == name_key("CARTER") == name_key("carter")
