"""The authored world: YAML files under `data/`, validated and loaded into domain objects."""

from kadath.world.loader import DEFAULT_WORLD_DIR, WorldFileError, load_world

__all__ = ["DEFAULT_WORLD_DIR", "WorldFileError", "load_world"]
