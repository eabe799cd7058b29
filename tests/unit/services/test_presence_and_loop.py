from __future__ import annotations

import asyncio

import pytest
from testkit import player_named

from kadath.domain.ratelimit import KeyedLimiter, TokenBucket, parse_rate
from kadath.services.events import LocalEventBus
from kadath.services.game_loop import GameLoop
from kadath.services.presence import Presence
from kadath.web.metrics import percentiles


def test_presence_indexes_players_by_room_and_name() -> None:
    presence = Presence()
    alice, bob = player_named("Alice"), player_named("Bob", "town.street")
    presence.enter(alice)
    presence.enter(bob)
    assert presence.in_room("town.square") == [alice]
    assert presence.find("ALICE") is alice
    assert presence.find("bo") is bob
    presence.move(alice, "town.street")
    assert {p.name for p in presence.in_room("town.street")} == {"Alice", "Bob"}
    assert presence.in_room("town.square") == []
    assert presence.take_dirty() == [alice]
    assert presence.take_dirty() == []
    assert presence.leave(alice.id) is alice
    assert presence.find("alice") is None and len(presence) == 1


def test_moving_a_character_that_has_left_play_indexes_nobody() -> None:
    # A death commits while its player logs out: the relocation that follows must not put
    # the departed character back into a room's index (a later look would raise KeyError).
    presence = Presence()
    alice = player_named("Alice", room="town.square")
    presence.enter(alice)
    presence.leave(alice.id)

    presence.move(alice, "town.street")

    assert alice.room_id == "town.street"  # the stale copy follows the committed state
    assert presence.in_room("town.street") == []
    assert presence.ids_in_room("town.street") == []
    assert presence.take_dirty() == []


def test_an_ambiguous_prefix_finds_nobody() -> None:
    presence = Presence()
    presence.enter(player_named("Abigail"))
    presence.enter(player_named("Abner"))
    assert presence.find("ab") is None


def test_token_bucket_allows_a_burst_then_refills() -> None:
    bucket = TokenBucket(capacity=3, rate=1)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == pytest.approx(1.0)
    assert bucket.allow(1.0)


def test_keyed_limiter_keeps_keys_apart() -> None:
    limiter = KeyedLimiter(capacity=1, rate=0.1, max_keys=2)
    assert limiter.allow("a", 0) and not limiter.allow("a", 0)
    assert limiter.allow("b", 0)
    assert limiter.allow("c", 100)  # forgets idle keys when full


@pytest.mark.parametrize(("text", "expected"), [("10/minute", (10, 10 / 60)), ("5/second", (5, 5))])
def test_rates_are_parsed(text: str, expected: tuple[float, float]) -> None:
    assert parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["ten/minute", "10/fortnight", "0/second", "10"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


async def test_a_failing_step_does_not_stop_the_others() -> None:
    loop = GameLoop(rate=10)
    ran: list[str] = []

    async def broken(_now: float) -> None:
        raise RuntimeError("boom")

    async def fine(_now: float) -> None:
        ran.append("fine")

    loop.add_step("broken", broken)
    loop.add_step("fine", fine)
    await loop.tick(0.0)
    await loop.tick(0.1)
    assert ran == ["fine", "fine"]
    assert loop.ticks == 2
    assert loop.stats()["ticks"] == 2.0
    names = {m.name for m in loop.metrics()}
    assert "kadath_tick_duration_ms" in names


async def test_scheduled_steps_run_on_their_own_period() -> None:
    loop = GameLoop(rate=10)
    runs: list[float] = []

    async def every_second(now: float) -> None:
        runs.append(now)

    loop.add_step("slow", every_second, every=1.0)
    for i in range(25):
        await loop.tick(i / 10)
    assert runs == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="twice"):
        loop.add_step("slow", every_second)


async def test_an_overrun_is_counted_and_the_missed_ticks_are_skipped_not_bunched() -> None:
    import time

    started, extra = time.monotonic(), [0.0]

    def clock() -> float:  # real time, plus the time a "slow" step pretends to have taken
        return time.monotonic() - started + extra[0]

    loop = GameLoop(rate=10, clock=clock)
    nows: list[float] = []
    three = asyncio.Event()

    async def step(now: float) -> None:
        nows.append(now)
        if len(nows) == 1:
            extra[0] += 0.35  # the first tick takes 3.5 periods
        if len(nows) == 3:
            three.set()

    loop.add_step("step", step)
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(three.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert loop.overruns >= 1
    # Due again at 0.4 (0.1, 0.2 and 0.3 skipped), then 0.5: never run back to back at 0.35.
    assert nows[1] >= 0.39
    assert nows[2] >= 0.49


async def test_a_failing_subscriber_is_logged_not_raised() -> None:
    bus = LocalEventBus()
    seen: list[object] = []

    def broken(_event: object) -> None:
        raise RuntimeError("boom")

    async def record(event: object) -> None:
        seen.append(event)

    bus.subscribe(int, broken)
    bus.subscribe(int, record)
    await bus.publish(5)
    assert seen == [5]


def test_percentiles_of_latencies() -> None:
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    result = percentiles([i / 1000 for i in range(1, 101)])
    assert result["p50"] == 51.0 and result["p99"] == 100.0


async def test_a_detached_step_never_holds_up_the_tick_and_is_skipped_while_busy() -> None:
    loop = GameLoop(rate=10)
    release = asyncio.Event()
    started: list[float] = []

    async def slow(now: float) -> None:
        started.append(now)
        await release.wait()

    loop.add_step("slow", slow, detached=True)
    async with asyncio.timeout(1):
        await loop.tick(0.0)
        await asyncio.sleep(0)
        await loop.tick(0.1)  # would hang here if the step ran inside the tick
    assert started == [0.0]
    assert loop.stats()["ticks"] == 2.0
    assert any(m.name == "kadath_tick_step_skipped" for m in loop.metrics())
    release.set()
    await asyncio.sleep(0.01)
    await loop.tick(0.2)
    await asyncio.sleep(0)
    assert started == [0.0, 0.2]
    await loop.stop_detached()
