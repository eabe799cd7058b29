"""``help`` under ``python -OO`` (``make run`` sets PYTHONOPTIMIZE=2, which strips docstrings):
every command's help is the same as with its docstrings loaded."""

from __future__ import annotations

import json
import subprocess
import sys

HELP_TEXTS = """
import json
import kadath.bootstrap  # every command module
from kadath.commands.base import Command

def every(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from every(sub)

texts = {
    f"{c.__module__}.{c.__qualname__}": c.help_text(object.__new__(c))  # no __init__: no state
    for c in every(Command)
    if c.names
}
print(json.dumps(texts))
"""


def help_texts(*flags: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, *flags, "-c", HELP_TEXTS],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    texts: dict[str, str] = json.loads(done.stdout)
    return texts


def test_help_is_the_same_without_docstrings() -> None:
    normal = help_texts()
    stripped = help_texts("-OO")
    assert len(normal) > 40
    assert not any("No help yet." in text for text in normal.values())
    assert stripped == normal
