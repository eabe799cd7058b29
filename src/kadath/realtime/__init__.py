"""Connections to players: the WebSocket protocol, sessions, and the Messenger that reaches them."""
