"""The inventory over GMCP (``Char.Items.List``): sent on entering the world, when the client
asks (``Char.Items.Inv``), and after a command that may change what the player carries or a
death; only to clients that take Char.Items. The query runs in a task the connection owns."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog

from kadath.commands.base import CommandTable
from kadath.commands.items import Examine, ItemCommand
from kadath.domain.errors import DatabaseUnavailable
from kadath.realtime.transport import TransportClosed
from kadath.services.carried import CarriedItem
from kadath.telnet import gmcp
from kadath.telnet.terminal_io import TerminalIO

log = structlog.get_logger(__name__)
PACKAGE = "Char.Items.List"
ItemsOf = Callable[[uuid.UUID], Awaitable[list[CarriedItem]]]
ChangesItems = Callable[[str], bool]


def item_command_finder(table: CommandTable) -> ChangesItems:
    """A function telling whether a typed line runs a command that may change the inventory
    (get, drop, put, wear, wield, remove; and ``inventory`` itself, as a refresh)."""

    def changes_items(text: str) -> bool:
        words = text.split(maxsplit=1)
        command = table.lookup(words[0]) if words else None
        return isinstance(command, ItemCommand) and not isinstance(command, Examine)

    return changes_items


class InventoryFeed:
    def __init__(self, io: TerminalIO, items_of: ItemsOf) -> None:
        self._io, self._items_of = io, items_of
        self._player_id: uuid.UUID | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def start(self, player_id: uuid.UUID) -> None:
        """The player is in the world: send the list, and answer the client's requests."""
        self._player_id = player_id
        self._io.gmcp.on_items_request = self.refresh
        self.refresh()

    def refresh(self) -> None:
        """Send the list soon (once more if a query is already running)."""
        if self._player_id is None or not self._io.takes_gmcp(PACKAGE):
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._send(self._player_id), name="telnet-items")

    def stop(self) -> None:
        self._io.gmcp.on_items_request = None
        if self._task is not None:
            self._task.cancel()

    async def _send(self, player_id: uuid.UUID) -> None:
        try:
            while True:
                self._again = False
                carried = await self._items_of(player_id)
                if self._io.closed:
                    return
                self._io.send_gmcp(PACKAGE, gmcp.items_list(carried))
                if not self._again:
                    return
        except TransportClosed:
            pass
        except DatabaseUnavailable:
            log.info("telnet_items_skipped_database_unavailable", remote=self._io.remote)
        except Exception:
            log.exception("telnet_items_failed", remote=self._io.remote)
