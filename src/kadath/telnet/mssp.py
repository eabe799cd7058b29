"""MSSP: what a MUD crawler learns about the server (name, players, uptime, rooms…)."""

from __future__ import annotations

import time

from kadath import __version__
from kadath.services.game import Game


def variables(game: Game, port: int) -> dict[str, str | list[str]]:
    """The MSSP variables, read now."""
    started = time.time() - (time.monotonic() - game.started_at)
    return {
        "NAME": "Kadath",
        "PLAYERS": str(len(game.presence)),
        "UPTIME": str(int(started)),
        "CODEBASE": f"Kadath {__version__}",
        "CONTACT": "",
        "PORT": str(port),
        "CRAWL DELAY": "-1",
        "GENRE": "Fantasy",
        "GAMEPLAY": ["Adventure", "Hack and Slash"],
        "ROOMS": str(len(game.world.rooms)),
        "AREAS": str(len(game.world.zones)),
        "ANSI": "1",
        "UTF-8": "1",
        "GMCP": "1",
        "MCCP": "1",
        "MSSP": "1",
    }
