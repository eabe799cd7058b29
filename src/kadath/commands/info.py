"""Looking around and about: look, who, score, help, explored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from kadath.commands.base import Command, CommandTable, Context
from kadath.domain.account import Role
from kadath.domain.errors import NotFound
from kadath.domain.experience import xp_to_next_level
from kadath.domain.lucidity import band_for
from kadath.domain.player import Player
from kadath.domain.stats import STAT_NAMES
from kadath.domain.world import HelpTopic, World
from kadath.services import messenger as frames
from kadath.services.chat import Listed

WHO_LIMIT = 60
_STAT_LABELS = [(s, s[:3].upper()) for s in STAT_NAMES]  # score's "STR 12  DEX 10 …"
PARTIAL_WHO = "Some of the world did not answer in time; there may be others."
Examiner = Callable[[Player, str], Awaitable[str]]


class Look(Command):
    """Look at the room around you, or at someone or something in it."""

    names = ("look", "l")
    usage = "look [target]"
    while_frozen = True
    category = "world"

    def __init__(self, examine: Examiner | None = None) -> None:
        self._examine = examine  # the items feature's, for things that are not beings

    async def run(self, ctx: Context) -> str:
        game = ctx.game
        if ctx.args:
            word = ctx.args.removeprefix("at ").strip()
            return await look_at(ctx, word, self._examine)
        view, text = await game.rooms.describe(ctx.player)
        game.messenger.to_player(ctx.player.id, frames.room(view, text))
        return ""


async def look_at(ctx: Context, word: str, examine: Examiner | None) -> str:
    game, me = ctx.game, ctx.player
    key = word.casefold()
    for other in game.presence.in_room(me.room_id):
        if other.name.casefold().startswith(key):
            state = "looks healthy" if other.health * 2 > other.max_health else "looks wounded"
            return f"{other.name}, level {other.level}. {other.name} {state}."
    for npc in game.npcs.in_room(me.room_id):
        if any(k.startswith(key) for k in npc.definition.keywords):
            return npc.definition.description
    if examine is not None:
        return await examine(me, word)
    raise NotFound(f"You see no '{word}' here.")


class Who(Command):
    """List the characters in the world right now."""

    names = ("who",)
    usage = "who"

    def __init__(self) -> None:
        # In one process: the last answer, with what it was made from (the versions of who is
        # where and of the world, and the levels it shows).
        self._kept: tuple[tuple[int, int, tuple[int, ...]], str] | None = None

    async def run(self, ctx: Context) -> str:
        game = ctx.game
        if game.chat.elsewhere is not None:  # a cluster: the others' lines are asked each time
            players, complete = await game.chat.who_anywhere()
            return self._lines(ctx, players, complete)
        players = game.chat.who()
        key = (
            game.presence.version,
            game.world.version,
            tuple([p.level for p in players[:WHO_LIMIT]]),
        )
        kept = self._kept
        if kept is not None and kept[0] == key:
            return kept[1]
        text = self._lines(ctx, players, True)
        self._kept = (key, text)
        return text

    def _lines(self, ctx: Context, players: Sequence[Listed], complete: bool) -> str:
        lines = [f"{len(players)} in the world:"]
        for p in players[:WHO_LIMIT]:
            room = ctx.game.world.rooms.get(p.room_id)
            where = ctx.game.world.zones[room.zone_id].name if room else "?"
            lines.append(f"  {p.name:<20} level {p.level:<3} {where}")
        if len(players) > WHO_LIMIT:
            lines.append(f"  … and {len(players) - WHO_LIMIT} more.")
        if not complete:
            lines.append(PARTIAL_WHO)
        return "\n".join(lines)


class Score(Command):
    """Show your character: level, experience, health, lucidity and stats."""

    names = ("score", "stats", "sc")
    usage = "score"

    async def run(self, ctx: Context) -> str:
        p = ctx.player
        to_next = xp_to_next_level(p.experience)
        nxt = f"{to_next} to the next level" if to_next is not None else "the highest level"
        stats = "  ".join([f"{label} {getattr(p.stats, s)}" for s, label in _STAT_LABELS])
        return "\n".join(
            [
                f"{p.name}, level {p.level}",
                f"Experience {p.experience} ({nxt})",
                f"Health {p.health}/{p.max_health}   Lucidity {p.lucidity} "
                f"({band_for(p.lucidity).value})",
                stats,
            ]
        )


class Explored(Command):
    """Show how much of each zone you have explored."""

    names = ("explored", "exploration")
    usage = "explored"

    def __init__(self) -> None:
        # For one version of the world: each room's zone, and the zones by name with their
        # room counts (counting them is a pass over every room per zone).
        self._kept: tuple[int, dict[str, str], list[tuple[str, str, int]]] | None = None

    async def run(self, ctx: Context) -> str:
        world = ctx.game.world
        seen = ctx.game.presence.explored(ctx.player.id)
        zone_of, zones = self._zones(world)
        per_zone = Counter([zone_of[r] for r in seen if r in zone_of])
        lines = ["You have explored:"]
        for zone_id, name, total in zones:
            lines.append(f"  {name:<24} {per_zone[zone_id]}/{total} rooms")
        lines.append(f"  {'In all':<24} {len(seen)}/{len(zone_of)} rooms")
        return "\n".join(lines)

    def _zones(self, world: World) -> tuple[dict[str, str], list[tuple[str, str, int]]]:
        kept = self._kept
        if kept is not None and kept[0] == world.version:
            return kept[1], kept[2]
        zone_of = {room_id: room.zone_id for room_id, room in world.rooms.items()}
        totals = Counter(zone_of.values())
        zones = [
            (zone.id, zone.name, totals[zone.id])
            for zone in sorted(world.zones.values(), key=lambda z: z.name)
        ]
        self._kept = (world.version, zone_of, zones)
        return zone_of, zones


class Help(Command):
    """List the commands, explain one, or read a help topic; 'help search <word>' finds the
    topics and commands that mention a word."""

    names = ("help", "?", "commands")
    usage = "help [command|topic] | help search <word>"
    while_frozen = True

    def __init__(self, table: CommandTable) -> None:
        self._table = table
        # The list each role reads, kept for one version of the world (its topics) and of the
        # table (the commands registered): (world version, command count, text).
        self._lists: dict[Role, tuple[int, int, str]] = {}

    async def run(self, ctx: Context) -> str:
        role = ctx.player.role
        world = ctx.game.world
        topics = world.help
        words = ctx.words()
        if len(words) >= 2 and words[0] == "search":
            return self._search(" ".join(words[1:]), topics, role=role)
        if words:
            command = self._table.lookup(words[0], role=role)
            if command is not None and not role.at_least(command.required_role):
                command = None
            topic = topics.get(words[0].casefold())
            if topic is not None and command is not None:  # 'help newbie': the guide first
                return f"{topic.title}\n\n{topic.text}\n\nThe command:\n{command.help_text()}"
            if command is not None:
                return command.help_text()
            topic = topic or _topic(topics, words[0])
            if topic is None:
                raise NotFound(f"There is no command or help topic '{ctx.args[:30]}'.")
            return f"{topic.title}\n\n{topic.text}"
        kept = self._lists.get(role)
        count = len(self._table.ordered)
        if kept is not None and kept[0] == world.version and kept[1] == count:
            return kept[2]
        text = self._list(role, topics)
        self._lists[role] = (world.version, count, text)
        return text

    def _list(self, role: Role, topics: dict[str, HelpTopic]) -> str:
        groups: dict[str, list[str]] = {}
        for command in self._table.visible(role=role):
            groups.setdefault(command.category, []).append(command.names[0])
        lines = ["Commands (type 'help <command>' for more):"]
        for category, names in groups.items():
            lines.append(f"  {category:<10} " + ", ".join(names))
        if topics:
            lines.append("Topics (type 'help <topic>'): " + ", ".join(sorted(topics)))
        return "\n".join(lines)

    def _search(self, word: str, topics: dict[str, HelpTopic], *, role: Role) -> str:
        found = [f"  {t.name:<12} {t.title}" for t in topics.values() if t.mentions(word)]
        key = word.casefold()
        found += [
            f"  {c.names[0]:<12} (command)"
            for c in self._table.visible(role=role)
            if key in c.names[0] or key in c.help_text().casefold()
        ]
        if not found:
            return f"Nothing in the help mentions '{word[:30]}'."
        return "\n".join([f"Help that mentions '{word[:30]}':", *found])


def _topic(topics: dict[str, HelpTopic], word: str) -> HelpTopic | None:
    """A topic by name, or by a unique prefix of its name."""
    key = word.casefold()
    if key in topics:
        return topics[key]
    matches = [t for name, t in topics.items() if name.startswith(key)]
    return matches[0] if len(matches) == 1 else None
