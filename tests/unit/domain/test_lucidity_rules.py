import pytest

from kadath.domain.lucidity import (
    LucidityBand,
    band_for,
    clamp_lucidity,
    rest_recovery,
    tint_description,
)
from kadath.domain.rng import FixedRng

ROOM = "A narrow lane winds between gambrel roofs."


@pytest.mark.parametrize(
    ("lucidity", "band"),
    [
        (100, LucidityBand.LUCID),
        (70, LucidityBand.LUCID),
        (69, LucidityBand.UNEASY),
        (40, LucidityBand.UNEASY),
        (39, LucidityBand.DISTURBED),
        (15, LucidityBand.DISTURBED),
        (14, LucidityBand.MAD),
        (0, LucidityBand.MAD),
    ],
)
def test_bands_change_at_seventy_forty_and_fifteen(lucidity: int, band: LucidityBand) -> None:
    assert band_for(lucidity) is band


def test_a_lucid_mind_sees_the_room_as_written() -> None:
    rng = FixedRng(choices=[])
    assert tint_description(ROOM, LucidityBand.LUCID, rng) == ROOM


@pytest.mark.parametrize("band", [LucidityBand.UNEASY, LucidityBand.DISTURBED, LucidityBand.MAD])
def test_a_troubled_mind_sees_one_unsettling_sentence_more(band: LucidityBand) -> None:
    tinted = tint_description(ROOM, band, FixedRng())
    assert tinted.startswith(ROOM + " ")
    extra = tinted.removeprefix(ROOM + " ")
    assert extra
    assert extra.endswith((".", "?"))


def test_the_tint_is_chosen_by_the_rng() -> None:
    first = tint_description(ROOM, LucidityBand.MAD, FixedRng(choices=[0]))
    second = tint_description(ROOM, LucidityBand.MAD, FixedRng(choices=[1]))
    assert first != second


def test_each_band_has_its_own_tints() -> None:
    seen = {
        tint_description(ROOM, band, FixedRng())
        for band in (LucidityBand.UNEASY, LucidityBand.DISTURBED, LucidityBand.MAD)
    }
    assert len(seen) == 3


def test_only_a_safe_room_restores_lucidity() -> None:
    assert rest_recovery(in_safe_room=True) == 5
    assert rest_recovery(in_safe_room=False) == 0


@pytest.mark.parametrize(("value", "clamped"), [(-3, 0), (0, 0), (55, 55), (100, 100), (140, 100)])
def test_lucidity_is_clamped_between_zero_and_one_hundred(value: int, clamped: int) -> None:
    assert clamp_lucidity(value) == clamped
