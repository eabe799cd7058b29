"""Telnet for MUD clients (Mudlet, TinTin++, screen readers): sign-in, rendering, GMCP, MSSP."""
