"""NPCs brought to life: spawning and respawning, wandering and aggression, dialogue, emotes.

``install_npcs`` wires it all into a ``Game`` and a ``GameLoop``; nothing here touches the DB."""
