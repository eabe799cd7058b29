"""The full command table, built once at start-up."""

from __future__ import annotations

from kadath.commands.admin import Broadcast, Goto, Teleport
from kadath.commands.base import Command, CommandTable
from kadath.commands.chat import Emote, Say, Whisper
from kadath.commands.info import Examiner, Explored, Help, Look, Score, Who
from kadath.commands.movement import Go, direction_commands
from kadath.commands.session import Quit


def build_command_table(*extra: Command, examine: Examiner | None = None) -> CommandTable:
    """The core commands and ``extra``; ``look <thing>`` falls back on ``examine``."""
    table = CommandTable()
    table.register(Look(examine), Go(), *direction_commands())
    table.register(Say(), Emote(), Whisper(), Who())
    table.register(Score(), Explored(), Help(table), Quit())
    table.register(*extra)
    table.register(Teleport(), Goto(), Broadcast())
    return table
