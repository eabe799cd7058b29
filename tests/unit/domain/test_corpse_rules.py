from datetime import UTC, datetime, timedelta

import pytest

from kadath.domain.corpse import (
    CorpseRules,
    DecayDisposition,
    can_loot,
    corpse_keywords,
    corpse_name,
    decay_disposition,
    decay_message,
    decays_at,
    is_decayed,
    roll_loot,
)
from kadath.domain.rng import FixedRng
from kadath.domain.world import ItemStack, LootEntry

DIED = datetime(1926, 10, 31, 23, 0, tzinfo=UTC)
RULES = CorpseRules(owner_grace_seconds=300, decay_seconds=1800)


def test_the_owner_may_loot_their_own_corpse_at_once() -> None:
    assert can_loot("alice", "alice", DIED, DIED, RULES)


def test_others_may_not_loot_a_player_corpse_during_the_grace_period() -> None:
    almost = DIED + timedelta(seconds=299)
    assert not can_loot("bob", "alice", DIED, almost, RULES)
    assert not can_loot(None, "alice", DIED, almost, RULES)


def test_anyone_may_loot_a_player_corpse_once_the_grace_ends() -> None:
    assert can_loot("bob", "alice", DIED, DIED + timedelta(seconds=300), RULES)


def test_anyone_may_loot_an_npc_corpse_at_once() -> None:
    assert can_loot("bob", None, DIED, DIED, RULES)


def test_can_loot_uses_the_given_grace_period() -> None:
    quick = CorpseRules(owner_grace_seconds=10)
    assert can_loot("bob", "alice", DIED, DIED + timedelta(seconds=10), quick)
    assert not can_loot("bob", "alice", DIED, DIED + timedelta(seconds=10), RULES)


def test_default_rules_give_five_minutes_of_grace_and_thirty_of_life() -> None:
    assert not can_loot("bob", "alice", DIED, DIED + timedelta(seconds=299))
    assert decays_at(DIED) == DIED + timedelta(minutes=30)


def test_negative_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CorpseRules(decay_seconds=-1)


def test_a_corpse_decays_exactly_at_its_decay_time() -> None:
    assert decays_at(DIED, RULES) == DIED + timedelta(seconds=1800)
    assert not is_decayed(DIED, DIED + timedelta(seconds=1799), RULES)
    assert is_decayed(DIED, DIED + timedelta(seconds=1800), RULES)


def test_a_decaying_corpse_spills_its_items_to_the_floor() -> None:
    assert decay_disposition(3) is DecayDisposition.SPILL_TO_FLOOR


def test_an_empty_decaying_corpse_just_crumbles() -> None:
    assert decay_disposition(0) is DecayDisposition.CRUMBLE


def test_a_negative_item_count_is_refused() -> None:
    with pytest.raises(ValueError, match="item_count"):
        decay_disposition(-1)


def test_decay_messages_tell_the_room_where_the_items_went() -> None:
    name = corpse_name("a ghoul")
    assert decay_message(name, DecayDisposition.CRUMBLE) == (
        "The corpse of a ghoul crumbles into dust."
    )
    assert decay_message(name, DecayDisposition.SPILL_TO_FLOOR) == (
        "The corpse of a ghoul crumbles into dust, and its belongings spill onto the floor."
    )


def test_corpse_name_and_keywords_come_from_the_owner() -> None:
    assert corpse_name("Randolph Carter") == "the corpse of Randolph Carter"
    assert corpse_keywords("Randolph Carter") == ("corpse", "randolph", "carter")


def test_certain_loot_drops_without_rolling() -> None:
    rng = FixedRng()
    drops = roll_loot([LootEntry("tome", 1.0, 1), LootEntry("coin", 1.0, 3)], rng)
    assert drops == [ItemStack("tome", 1), ItemStack("coin", 3)]


def test_impossible_loot_never_drops_or_rolls() -> None:
    assert roll_loot([LootEntry("idol", 0.0)], FixedRng()) == []


def test_uncertain_loot_drops_on_a_draw_below_its_chance() -> None:
    entries = [LootEntry("idol", 0.3), LootEntry("knife", 0.5, 2), LootEntry("bone", 0.9)]
    rng = FixedRng(floats=[0.29, 0.5, 0.1])
    assert roll_loot(entries, rng) == [ItemStack("idol", 1), ItemStack("bone", 1)]
    assert rng.exhausted
