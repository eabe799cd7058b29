"""Admin commands for the living world: slay a player or an NPC, heal a player, read the tick."""

from __future__ import annotations

from kadath.commands.base import Command, Context
from kadath.domain.account import Role
from kadath.domain.errors import NotFound, PlayerNotFound
from kadath.domain.npc import NpcInstance
from kadath.domain.player import MAX_AMOUNT
from kadath.domain.stats import MAX_LUCIDITY
from kadath.services import messenger as frames
from kadath.services.combat import CombatService
from kadath.services.death import DeathService
from kadath.services.game_loop import GameLoop

HEAL_REASON = "admin_heal"


class Slay(Command):
    """Kill at once, through the ordinary death: a player anywhere in the world (they leave a
    corpse and wake in their respawn room), else an NPC in your room (it leaves its corpse
    and loot, and respawns if a spawn rule made it; nobody earns experience for it)."""

    names = ("slay",)
    usage = "slay <player|npc>"
    required_role = Role.ADMIN
    category = "admin"

    def __init__(self, death: DeathService) -> None:
        self._death = death

    async def run(self, ctx: Context) -> str:
        if len(ctx.words()) != 1:
            raise self.usage_error()
        death = self._death
        victim = ctx.game.presence.find(ctx.args)
        npc = _npc_here(ctx, ctx.args)
        # A player's full name wins; then an NPC here; a bare name prefix only last, so
        # "slay rat" never kills a Ratcliffe while a rat stands in front of you.
        exact = victim is not None and victim.name.casefold() == ctx.args.casefold()
        if victim is not None and (exact or npc is None):
            await death.player_died(victim, ctx.player.name)
            return f"You strike {victim.name} down."
        if npc is None:
            raise NotFound(f"There is no '{ctx.args[:30]}' in the world or in this room.")
        await death.npc_died(npc, None)
        return f"You strike down {npc.name}."


class Heal(Command):
    """Restore a character in the world to full health and a clear mind."""

    names = ("heal",)
    usage = "heal <player>"
    required_role = Role.ADMIN
    category = "admin"

    def __init__(self, combat: CombatService) -> None:
        self._combat = combat

    async def run(self, ctx: Context) -> str:
        if len(ctx.words()) != 1:
            raise self.usage_error()
        game = ctx.game
        target = game.presence.find(ctx.args)
        if target is None:
            raise PlayerNotFound(f"Nobody called {ctx.args[:30]} is in the world.")
        async with game.uow() as uow:
            # Both clamp in the database: health to the row's max health, lucidity to its cap.
            health = await uow.health.set_health(target.id, MAX_AMOUNT)
            lucidity = await uow.experience.update_player_stat_field(
                target.id, "lucidity", MAX_LUCIDITY, HEAL_REASON
            )
        target.health, target.lucidity = health, lucidity
        fighting = self._combat.in_combat(target.id)
        game.messenger.to_player(target.id, frames.vitals(target, in_combat=fighting))
        if target.id != ctx.player.id:
            text = "A warmth floods through you: your wounds close and your thoughts clear."
            game.messenger.to_player(target.id, frames.message("system", text))
        return f"{target.name} is healed: health {health}/{target.max_health}, lucidity {lucidity}."


class Tick(Command):
    """Show the game loop's health: ticks run, overruns, and recent tick durations.
    'tick reset' forgets the recent durations, to measure a fresh stretch (counters stay)."""

    names = ("tick",)
    usage = "tick [reset]"
    required_role = Role.ADMIN
    category = "admin"

    def __init__(self, loop: GameLoop) -> None:
        self._loop = loop

    async def run(self, ctx: Context) -> str:
        if ctx.args not in ("", "reset"):
            raise self.usage_error()
        loop = self._loop
        if ctx.args == "reset":
            loop.durations.clear()
            loop.lateness.clear()
            return "Tick durations forgotten; counting afresh."
        stats = loop.stats()
        rate = 1.0 / loop.period
        return (
            f"Ticks: {int(stats['ticks'])} at {rate:g}/s, "
            f"{int(stats['tick_overruns'])} overrun.\n"
            f"Tick duration: p50 {stats['tick_p50_ms']:.2f} ms, p99 {stats['tick_p99_ms']:.2f} ms."
        )


def _npc_here(ctx: Context, word: str) -> NpcInstance | None:
    key = word.casefold()
    for npc in ctx.game.npcs.in_room(ctx.player.room_id):
        keywords = [k.casefold() for k in npc.definition.keywords]
        if npc.alive and (npc.definition.id == key or any(k.startswith(key) for k in keywords)):
            return npc
    return None


def admin_world_commands(
    loop: GameLoop, combat: CombatService, death: DeathService
) -> list[Command]:
    """The commands of this module, to add to the command table."""
    return [Slay(death), Heal(combat), Tick(loop)]
