"""Packages whose ``__init__`` imports everything they have (uvicorn: its CLI, click, the
reloaders; telnetlib3: its client): ``kadath serve`` imports the submodules it uses and runs
such an ``__init__`` only when something asks the package for a name no submodule gives."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

# What ``kadath serve`` defers: uvicorn's __init__ would load uvicorn.main (click, the
# supervisors, watchfiles, multiprocessing); telnetlib3's, its client and fingerprinting.
# The names they ask their own package for are answered up front (name → "module:name"):
# uvicorn's lifespan modules ``from uvicorn import Config``; telnetlib3.server looks up
# ``telnetlib3.telnet_server_shell`` for a default Kadath never uses (it passes its own
# shell), so it gets a stand-in that imports the real one (and wcwidth's tables) if called.
SERVE_PACKAGES: dict[str, dict[str, str]] = {
    "uvicorn": {"Config": "uvicorn.config:Config"},
    "telnetlib3": {"telnet_server_shell": "kadath.lazy_packages:telnet_server_shell"},
}


async def telnet_server_shell(*args: Any, **kwargs: Any) -> Any:
    """telnetlib3's default server shell, imported when first called."""
    from telnetlib3.server_shell import telnet_server_shell as shell

    return await shell(*args, **kwargs)


def defer_init(package: str, names: dict[str, str] | None = None) -> bool:
    """Put ``package`` in sys.modules without running its ``__init__``: its submodules import
    as usual; ``names`` (name → "module:name") are set at once; any other name first imports the
    submodule of that name if there is one, else runs the real ``__init__``. False (and
    nothing done) when the package is imported already or is not a package."""
    if package in sys.modules:
        return False
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def finish(name: str) -> object:
        if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            return importlib.import_module(f"{package}.{name}")
        del module.__dict__["__getattr__"]  # once: the real __init__ fills the module
        loader.exec_module(module)
        return getattr(module, name)

    module.__dict__["__getattr__"] = finish
    sys.modules[package] = module
    for name, where in (names or {}).items():
        source, _, attribute = where.partition(":")
        setattr(module, name, getattr(importlib.import_module(source), attribute))
    return True


def defer_serve_packages() -> None:
    """For ``kadath serve`` only (a process of its own), before it imports the server."""
    for package, names in SERVE_PACKAGES.items():
        defer_init(package, names)


def is_deferred(module: ModuleType) -> bool:
    return "__getattr__" in module.__dict__ and module.__name__ in SERVE_PACKAGES
