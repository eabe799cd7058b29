"""The OpenAPI document under ``python -OO`` (``make run`` sets PYTHONOPTIMIZE=2, which strips
docstrings): the same as with the docstrings loaded (routes' and enums' descriptions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

OPENAPI = """
import json, sys
from pathlib import Path
from kadath.bootstrap import create_app
from kadath.settings import Settings

app = create_app(Settings(_env_file=None, data_dir=Path(sys.argv[1])))
print(json.dumps(app.openapi(), sort_keys=True))
"""


def openapi(data_dir: Path, *flags: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, *flags, "-c", OPENAPI, str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=data_dir,
    )
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_the_openapi_document_is_the_same_without_docstrings(tmp_path: Path) -> None:
    normal = openapi(tmp_path)
    stripped = openapi(tmp_path, "-OO")
    assert "Liveness" in json.dumps(normal)  # a route's docstring: the description
    assert stripped == normal
