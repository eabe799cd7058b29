"""REST and WebSocket routes, one module per feature.

Each module's ``router`` is a ``Routes``: an ``APIRouter`` that only records the routes its
decorators declare, and makes them on the app (``install``). An included ``APIRouter`` would
make each route twice: once when the module is imported, and again, for the app, at the first
request (FastAPI's included routers copy their routes then), every request and response model's
validators with it (~160 pydantic ``TypeAdapter``s, ~2 MiB that stay: docs/performance.md,
"Idle memory, third pass").
"""

from __future__ import annotations

import inspect
import linecache
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI

from kadath.docstrings import docstrings_stripped, source_docstring


class Routes(APIRouter):
    """Declare routes as on an ``APIRouter`` (``prefix`` and ``tags`` only); ``install`` makes
    them on an app, as ``app.include_router`` would have them."""

    def __init__(self, *, prefix: str = "", tags: list[str] | None = None) -> None:
        super().__init__(prefix=prefix, tags=list(tags or []))
        self.declared: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.declared.append((path, endpoint, options))

    def install(self, app: FastAPI) -> None:
        """Make the declared routes on ``app``: the prefix before each path, the tags before
        each route's own. Under ``python -OO`` a route without a description gets its
        endpoint's docstring read back from the source (kadath.docstrings), as FastAPI would
        have taken it from ``__doc__``."""
        for path, endpoint, declared in self.declared:
            options = dict(declared)
            options["tags"] = [*self.tags, *(options.get("tags") or [])]
            if not options.get("description") and docstrings_stripped():
                doc = source_docstring(endpoint)
                options["description"] = inspect.cleandoc(doc) if doc else None
            app.router.add_api_route(self.prefix + path, endpoint, **options)
        if docstrings_stripped():
            linecache.clearcache()  # the source lines read for the docstrings: done with
