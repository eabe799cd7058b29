"""NPCs: spawning, lifecycle, behaviours and talk, driven by the game loop."""
