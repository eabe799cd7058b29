"""The command table and dispatcher: parse a line, find the command, run it, reply once.

A command is a class with ``names`` (the first is canonical), a ``usage`` line and an async
``run``; its docstring is what ``help <command>`` shows. Expected refusals are DomainErrors
whose sentence becomes the reply; anything else is a bug, logged, answered with a generic line.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import structlog

from kadath.domain.errors import DatabaseUnavailable, DomainError, InvalidInput, KadathError
from kadath.domain.player import Player
from kadath.services.game import Game

log = structlog.get_logger(__name__)


class Usage(InvalidInput):
    """Wrong arguments: the reply is the command's usage line."""


@dataclass
class Context:
    player: Player
    args: str
    game: Game
    verb: str = ""
    quit_requested: bool = False

    def words(self) -> list[str]:
        return self.args.split()


@dataclass(frozen=True)
class Reply:
    ok: bool
    text: str
    quit: bool = False


class Command:
    names: ClassVar[tuple[str, ...]] = ()
    usage: ClassVar[str] = ""
    admin: ClassVar[bool] = False
    category: ClassVar[str] = "general"

    async def run(self, ctx: Context) -> str:
        raise NotImplementedError

    def help_text(self) -> str:
        """The in-game help; an instance method, as some commands set their names per instance."""
        doc = inspect.cleandoc(self.__doc__ or "No help yet.")
        aliases = ", ".join(self.names[1:])
        lines = [f"Usage: {self.usage}" if self.usage else self.names[0], doc]
        if aliases:
            lines.append(f"Also: {aliases}")
        return "\n".join(lines)

    def usage_error(self) -> Usage:
        return Usage(f"Usage: {self.usage}")


@dataclass
class CommandTable:
    commands: dict[str, Command] = field(default_factory=dict)
    ordered: list[Command] = field(default_factory=list)

    def register(self, *commands: Command) -> None:
        for command in commands:
            for name in command.names:
                if name in self.commands:
                    raise ValueError(f"command name {name!r} registered twice")
                self.commands[name] = command
            self.ordered.append(command)

    def lookup(self, word: str, *, admin: bool) -> Command | None:
        """Exact name first, then a unique prefix of a canonical name."""
        word = word.lower()
        command = self.commands.get(word)
        if command is None:
            matches = {
                c
                for c in self.ordered
                if (admin or not c.admin) and c.names[0].startswith(word) and len(word) >= 2
            }
            command = matches.pop() if len(matches) == 1 else None
        if command is not None and command.admin and not admin:
            return None
        return command

    def visible(self, *, admin: bool) -> Iterable[Command]:
        return [c for c in self.ordered if admin or not c.admin]


class Dispatcher:
    def __init__(self, table: CommandTable, game: Game) -> None:
        self.table, self.game = table, game
        self.handled = 0
        self.latencies: list[float] = []

    async def dispatch(self, player: Player, line: str) -> Reply:
        """Run one typed line for ``player``; always exactly one Reply."""
        started = time.perf_counter()
        try:
            return await self._dispatch(player, line)
        finally:
            self.handled += 1
            self.latencies.append(time.perf_counter() - started)
            if len(self.latencies) > 10_000:
                del self.latencies[:5_000]

    async def _dispatch(self, player: Player, line: str) -> Reply:
        line = line.strip()
        if not line:
            return Reply(True, "")
        verb, _, args = line.partition(" ")
        if verb[0] in "'\"" and len(verb) >= 1:  # 'hello  →  say hello
            verb, args = "say", line[1:]
        elif verb[0] == ":":
            verb, args = "emote", line[1:]
        command = self.table.lookup(verb, admin=player.is_admin)
        if command is None:
            return Reply(False, f"Unknown command '{verb[:30]}'. Type 'help' for a list.")
        ctx = Context(player=player, args=args.strip(), game=self.game, verb=verb.lower())
        try:
            text = await command.run(ctx)
        except DomainError as exc:
            return Reply(False, str(exc))
        except DatabaseUnavailable:
            # Logged once per outage by the database's availability, not once per command.
            return Reply(False, "The world wavers; try that again in a moment.")
        except KadathError as exc:
            log.warning("command_infrastructure_error", command=command.names[0], error=str(exc))
            return Reply(False, "The world wavers; try that again in a moment.")
        except Exception:
            log.exception("command_failed", command=command.names[0], line=line[:200])
            return Reply(False, "Something went wrong with that command; it has been logged.")
        return Reply(True, text, quit=ctx.quit_requested)
