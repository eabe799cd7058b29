"""The command table and dispatcher: parse a line, find the command, run it, reply once.

A command is a class with ``names`` (the first is canonical), a ``usage`` line and an async
``run``; its docstring is what ``help <command>`` shows (read back from the source under
``python -OO``, which drops docstrings: see kadath.docstrings). Expected refusals are
DomainErrors whose sentence becomes the reply; anything else is a bug, logged, answered with a
generic line.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

import structlog

from kadath.docstrings import source_docstring
from kadath.domain.account import Role
from kadath.domain.errors import (
    DatabaseUnavailable,
    DomainError,
    Forbidden,
    InvalidInput,
    KadathError,
)
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


class Reply(NamedTuple):
    """One per command (a named tuple: made on every command, cheaper than a frozen dataclass)."""

    ok: bool
    text: str
    quit: bool = False


class Command:
    names: ClassVar[tuple[str, ...]] = ()
    usage: ClassVar[str] = ""
    # The lowest role that may use it; each role may use everything the roles below it may.
    required_role: ClassVar[Role] = Role.PLAYER
    # Speech is refused while the speaker is muted; only these work while frozen.
    speech: ClassVar[bool] = False
    while_frozen: ClassVar[bool] = False
    category: ClassVar[str] = "general"

    async def run(self, ctx: Context) -> str:
        raise NotImplementedError

    def help_text(self) -> str:
        """The in-game help; an instance method, as some commands set their names per instance.
        Made once per instance and names (reading a docstring from source under ``-OO``)."""
        kept: tuple[tuple[str, ...], str] | None = self.__dict__.get("_help_kept")
        if kept is not None and kept[0] == self.names:
            return kept[1]
        text = self._help_text()
        self.__dict__["_help_kept"] = (self.names, text)
        return text

    def _help_text(self) -> str:
        doc = inspect.cleandoc(self.__doc__ or source_docstring(type(self)) or "No help yet.")
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
            if hasattr(command, "admin"):
                # The old flag would be silently ignored: a command meant for admins only
                # would be open to everyone.
                raise ValueError(f"{command.names[0]}: use required_role, not admin")
            for name in command.names:
                if name in self.commands:
                    raise ValueError(f"command name {name!r} registered twice")
                self.commands[name] = command
            self.ordered.append(command)

    def lookup(self, word: str, *, role: Role = Role.PLAYER) -> Command | None:
        """Exact name first (whatever the role: the dispatcher refuses it with a sentence),
        then a unique prefix of the canonical name of a command ``role`` may use."""
        word = word.lower()
        command = self.commands.get(word)
        if command is None and len(word) >= 2:
            matches = {c for c in self.visible(role=role) if c.names[0].startswith(word)}
            command = matches.pop() if len(matches) == 1 else None
        return command

    def visible(self, *, role: Role) -> Iterable[Command]:
        """The commands ``role`` may use, in the order registered."""
        return [c for c in self.ordered if role.at_least(c.required_role)]


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
        command = self.table.lookup(verb, role=player.role)
        if command is None:
            return Reply(False, f"Unknown command '{verb[:30]}'. Type 'help' for a list.")
        ctx = Context(player=player, args=args.strip(), game=self.game, verb=verb.lower())
        try:
            self._guard(command, player)
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

    def _guard(self, command: Command, player: Player) -> None:
        """Raises Forbidden (role too low), Sanctioned (frozen, or muted for speech)."""
        required = command.required_role
        if required is not Role.PLAYER and not player.role.at_least(required):
            raise Forbidden(refusal(command))
        if not command.while_frozen:
            self.game.sanctions.freezes.check(player.id)
        if command.speech:
            self.game.mutes.check(player.id)


def refusal(command: Command) -> str:
    """The sentence for a role too low to use ``command``."""
    roles = [f"{r.value}s" for r in Role if r.at_least(command.required_role)]
    who = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " and " + roles[-1]
    return f"Only {who} may use '{command.names[0]}'."
