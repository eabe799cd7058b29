"""Fighting and recovering: attack, flee, consider, rest."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.domain.errors import NotFound
from kadath.services import messenger as frames
from kadath.services.combat import CombatService
from kadath.services.combat_round import definite, sentence
from kadath.services.lucidity import RestService

_ODDS = (
    (-3, "would be no match for you"),
    (-1, "looks like an easy fight"),
    (1, "looks like an even match"),
    (3, "looks like a hard fight"),
)


class Attack(Command):
    """Attack someone or something in the room. Other players only where the room allows it.
    Each round you and your foe trade blows until one falls, flees or leaves."""

    names = ("attack", "kill", "k")
    usage = "attack <target>"
    category = "combat"

    def __init__(self, combat: CombatService) -> None:
        self._combat = combat

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        return await self._combat.attack(ctx.player, ctx.args)


class Flee(Command):
    """Try to run from a fight through a random exit. Nimble characters escape more often."""

    names = ("flee",)
    usage = "flee"
    category = "combat"

    def __init__(self, combat: CombatService) -> None:
        self._combat = combat

    async def run(self, ctx: Context) -> str:
        direction = await self._combat.flee(ctx.player)
        view, text = await ctx.game.rooms.describe(ctx.player)
        ctx.game.messenger.to_player(ctx.player.id, frames.room(view, text))
        return f"You flee {direction.value}!"


class Consider(Command):
    """Weigh up a creature in the room before you pick a fight with it."""

    names = ("consider", "con")
    usage = "consider <target>"
    category = "combat"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        key = ctx.args.casefold()
        for npc in ctx.game.npcs.in_room(ctx.player.room_id):
            if npc.alive and any(k.casefold().startswith(key) for k in npc.definition.keywords):
                gap = npc.definition.level - ctx.player.level
                odds = next((text for limit, text in _ODDS if gap <= limit), None)
                odds = odds or "would very likely kill you"
                return sentence(f"{definite(npc.name)} {odds}.")
        raise NotFound(f"You see no '{ctx.args}' here.")


class Rest(Command):
    """Rest a while in a safe place to steady your mind and win back some lucidity."""

    names = ("rest",)
    usage = "rest"
    category = "combat"

    def __init__(self, rest: RestService) -> None:
        self._rest = rest

    async def run(self, ctx: Context) -> str:
        gained = await self._rest.rest(ctx.player)
        return (
            "You rest a while, and the shadows seem to draw back a little. "
            f"(+{gained} lucidity, now {ctx.player.lucidity})"
        )
