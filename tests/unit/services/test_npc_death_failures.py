"""An NPC's death is announced whatever becomes of storing its corpse: without NpcKilled the
spawner never hears of it, and the NPC would never come back."""

from __future__ import annotations

from types import TracebackType

from combat_fakes import build_arena

from kadath.domain.corpse import CorpseRules
from kadath.domain.events import NpcKilled
from kadath.domain.rng import FixedRng
from kadath.services.death import DeathService
from kadath.services.outbound import Outbound
from kadath.services.realm import Realm

RULES = CorpseRules(owner_grace_seconds=60, decay_seconds=600)


class BuggyUnitOfWork:
    """A unit of work whose code has a bug: it raises something no adapter translates."""

    async def __aenter__(self) -> BuggyUnitOfWork:
        raise RuntimeError("a bug in storing the corpse")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


async def test_an_npc_whose_corpse_cannot_be_stored_because_of_a_bug_is_still_announced() -> None:
    arena = build_arena(FixedRng(), RULES)
    game = arena.game
    death = DeathService(
        Realm(game.world, game.presence, game.npcs),
        Outbound(game.messenger, game.bus),
        BuggyUnitOfWork,  # type: ignore[arg-type]
        game.rng,
        game.clock,
        game.movement,
        game.rooms,
        RULES,
    )
    ghoul = arena.spawn()

    assert await death.npc_died(ghoul, None) is None

    assert [e for e in arena.events if isinstance(e, NpcKilled)] == [
        NpcKilled(ghoul.id, "ghoul", "crypt", None, ghoul.spawn_key)
    ]
    assert game.npcs.get(ghoul.id) is None
