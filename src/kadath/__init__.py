"""Kadath: a multiplayer text-game server whose persistence is async from end to end."""

__version__ = "0.1.0"
