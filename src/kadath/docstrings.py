"""Docstrings that survive ``python -OO``.

``make run`` starts the server with ``PYTHONOPTIMIZE=2``: the compiler then drops every
docstring, ~5 MiB of them in the libraries a server loads (docs/performance.md, "Idle memory,
third pass"). Kadath shows some of its own to people (a command's docstring is its in-game
help, a route's is its description in the OpenAPI document), so where ``__doc__`` is gone it
is read back from the source file, once per object, when first asked for.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable
from typing import Any

_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def docstrings_stripped() -> bool:
    """Whether this interpreter drops docstrings (``-OO``, ``PYTHONOPTIMIZE=2``)."""
    return sys.flags.optimize >= 2


def source_docstring(obj: type | Callable[..., Any]) -> str | None:
    """``obj.__doc__`` as written in the source (a class or a function; not cleaned), also
    under ``-OO``; None when it has none, or its source is not to be found."""
    doc = obj.__doc__
    if doc is not None or not docstrings_stripped():
        return doc
    if obj not in _READ:
        _READ[obj] = _read_docstring(obj)
    return _READ[obj]


_READ: dict[object, str | None] = {}  # what was read back, by class or function


def _read_docstring(obj: type | Callable[..., Any]) -> str | None:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):  # no source shipped, or made at runtime
        return None
    node = tree.body[0] if tree.body else None
    return ast.get_docstring(node, clean=False) if isinstance(node, _DEFINITIONS) else None
