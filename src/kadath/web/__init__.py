"""HTTP and WebSocket endpoints (FastAPI), and the browser client's static files.

Before any route is made: FastAPI asks of every parameter and response type whether it is a
``pydantic.v1`` model (to refuse it), and imports ``pydantic.v1`` to ask, ~2.4 MiB that stay
loaded (docs/performance.md, "Idle memory, third pass"). No class can be a ``pydantic.v1``
model unless ``pydantic.v1`` was imported, so the question is first asked of ``sys.modules``:
the answer is the same, and a server that never imports ``pydantic.v1`` never loads it.
"""

from __future__ import annotations

import sys
from typing import Any

import fastapi.utils


def _guard_pydantic_v1_check() -> None:
    check = getattr(fastapi.utils, "annotation_is_pydantic_v1", None)
    if check is None or getattr(check, "kadath_guarded", False):
        return  # another FastAPI (tests/startup notice), or guarded already

    def annotation_is_pydantic_v1(annotation: Any) -> bool:
        return "pydantic.v1" in sys.modules and bool(check(annotation))

    annotation_is_pydantic_v1.kadath_guarded = True  # type: ignore[attr-defined]
    setattr(fastapi.utils, "annotation_is_pydantic_v1", annotation_is_pydantic_v1)  # noqa: B010


_guard_pydantic_v1_check()
