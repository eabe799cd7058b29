"""Admin commands for NPCs: spawn one here, despawn one here, list those alive."""

from __future__ import annotations

from collections import Counter

from kadath.commands.base import Command, Context
from kadath.domain.account import Role
from kadath.domain.errors import NotFound
from kadath.npc import voice
from kadath.npc.spawner import NpcSpawner

LIST_LIMIT = 40


class _SpawnerCommand(Command):
    def __init__(self, spawner: NpcSpawner) -> None:
        self._spawner = spawner


class Spawn(_SpawnerCommand):
    """Bring a new NPC into the room you stand in, by its id in the world files."""

    names = ("spawn",)
    usage = "spawn <npc id>"
    required_role = Role.ADMIN
    category = "admin"

    async def run(self, ctx: Context) -> str:
        if len(ctx.words()) != 1:
            raise self.usage_error()
        npc = self._spawner.spawn(ctx.args.lower(), ctx.player.room_id)
        return f"You call forth {npc.name}."


class Despawn(_SpawnerCommand):
    """Remove an NPC in your room from the world: no corpse, no loot, no respawn."""

    names = ("despawn",)
    usage = "despawn <npc>"
    required_role = Role.ADMIN
    category = "admin"

    async def run(self, ctx: Context) -> str:
        if not ctx.args:
            raise self.usage_error()
        word = ctx.args.casefold()
        for npc in ctx.game.npcs.in_room(ctx.player.room_id):
            if npc.definition.id == word or any(
                k.startswith(word) for k in npc.definition.keywords
            ):
                self._spawner.despawn(npc.id)
                return f"{voice.capitalised(npc)} is gone."
        raise NotFound(f"You see no '{ctx.args[:30]}' here.")


class Npcs(_SpawnerCommand):
    """List the NPCs alive: counts by kind, or each one in a zone or of an id (npcs ghoul)."""

    names = ("npcs",)
    usage = "npcs [zone id | npc id]"
    required_role = Role.ADMIN
    category = "admin"

    async def run(self, ctx: Context) -> str:
        spawner, game = self._spawner, ctx.game
        stats = spawner.stats()
        header = f"{stats['alive']} NPCs alive, {stats['pending_respawns']} waiting to respawn."
        if not ctx.args:
            counts = Counter(n.definition.id for n in game.npcs.all())
            return "\n".join([header, *(f"  {k}: {v}" for k, v in sorted(counts.items()))])
        word = ctx.args.strip().lower()
        chosen = [
            n
            for n in game.npcs.all()
            if n.definition.id == word or game.world.rooms[n.room_id].zone_id == word
        ]
        lines = [f"  {n.name} [{n.state.value}, {n.health} hp] in {n.room_id}" for n in chosen]
        more = [f"  … and {len(lines) - LIST_LIMIT} more"] if len(lines) > LIST_LIMIT else []
        return "\n".join([header, *lines[:LIST_LIMIT], *more])
