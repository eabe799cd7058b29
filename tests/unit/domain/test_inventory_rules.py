import pytest

from kadath.domain.inventory import BASE_CARRY_SLOTS, can_carry, carry_capacity, match_keyword

CANDIDATES = [
    ("a rusty sword", ("sword", "rusty")),
    ("a silver dagger", ("dagger", "silver")),
    ("a Sword of Night", ("Sword", "night")),
    ("a sword-cane", ("swordcane", "cane")),
]


def test_an_unburdened_character_carries_twenty_items() -> None:
    assert BASE_CARRY_SLOTS == 20
    assert carry_capacity([]) == 20


def test_worn_containers_add_their_capacity() -> None:
    assert carry_capacity([5, 10]) == 35
    assert carry_capacity(iter([3])) == 23


def test_a_negative_container_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        carry_capacity([5, -1])


def test_can_carry_up_to_exactly_the_capacity() -> None:
    assert can_carry(18, 2, 20)
    assert not can_carry(18, 3, 20)
    assert can_carry(20, 0, 20)


def test_adding_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        can_carry(1, -1, 20)


def test_a_word_matches_the_first_candidate_with_a_keyword_starting_with_it() -> None:
    assert match_keyword("dag", CANDIDATES) == 1
    assert match_keyword("sw", CANDIDATES) == 0


def test_matching_ignores_case() -> None:
    assert match_keyword("NIGHT", CANDIDATES) == 2
    assert match_keyword("Silver", CANDIDATES) == 1


def test_a_numeric_prefix_picks_the_nth_match() -> None:
    assert match_keyword("1.sword", CANDIDATES) == 0
    assert match_keyword("2.sword", CANDIDATES) == 2
    assert match_keyword("3.sword", CANDIDATES) == 3
    assert match_keyword("4.sword", CANDIDATES) is None


def test_the_whole_name_also_matches() -> None:
    assert match_keyword("A Silver Dagger", CANDIDATES) == 1


def test_a_word_that_matches_nothing_gives_none() -> None:
    assert match_keyword("tome", CANDIDATES) is None
    assert match_keyword("sword", []) is None


@pytest.mark.parametrize("word", ["", "   ", "0.sword", "2.", "."])
def test_empty_or_malformed_words_match_nothing(word: str) -> None:
    assert match_keyword(word, CANDIDATES) is None


def test_a_dot_without_a_number_is_part_of_the_word() -> None:
    candidates = [("a tome", ("tome",)), ("Dr. Armitage", ("dr.", "armitage"))]
    assert match_keyword("dr.", candidates) == 1


def test_a_unicode_digit_prefix_is_not_an_ordinal_and_never_raises() -> None:
    for word in ("².sword", "٣.sword", "𝟚.sword", "½.sword"):
        assert match_keyword(word, CANDIDATES) is None


def test_zero_negative_and_absurd_ordinals_match_nothing() -> None:
    for word in ("0.sword", "-1.sword", "99999999999999999999.sword", "9" * 5000 + ".sword"):
        assert match_keyword(word, CANDIDATES) is None
