"""``who``'s order: by name, whatever the case, and kept up to date as players come and go
(the order is kept between calls, so the cache must follow every entry and departure)."""

from __future__ import annotations

from testkit import player_named

from kadath.services.presence import Presence


def test_who_lists_by_name_and_follows_entries_and_departures() -> None:
    presence = Presence()
    carter, armitage, wilbur = (player_named(n) for n in ("carter", "Armitage", "Wilbur"))
    for player in (carter, armitage, wilbur):
        presence.enter(player)
    assert [p.name for p in presence.sorted_by_name()] == ["Armitage", "carter", "Wilbur"]

    presence.leave(armitage.id)
    lavinia = player_named("Lavinia")
    presence.enter(lavinia)

    assert [p.name for p in presence.sorted_by_name()] == ["carter", "Lavinia", "Wilbur"]


def test_changing_the_list_who_returned_does_not_change_the_next_one() -> None:
    presence = Presence()
    presence.enter(player_named("Carter"))
    presence.sorted_by_name().clear()
    assert [p.name for p in presence.sorted_by_name()] == ["Carter"]
