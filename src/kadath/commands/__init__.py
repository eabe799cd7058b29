"""Player commands: small declarative classes whose docstrings are the in-game help."""
