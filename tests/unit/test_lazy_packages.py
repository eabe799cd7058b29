"""kadath.lazy_packages: a package put in sys.modules without its ``__init__`` imports its
submodules as usual and runs the real ``__init__`` only for a name no submodule gives."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kadath.lazy_packages import defer_init

INIT = """
import sys
from lazypkg.heavy import WEIGHT
sys.lazypkg_inits = getattr(sys, "lazypkg_inits", 0) + 1
TOP = "top"
"""


@pytest.fixture
def lazypkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text(INIT)
    (package / "heavy.py").write_text("WEIGHT = 1\n")
    (package / "light.py").write_text("LIGHT = 2\n")
    (package / "named.py").write_text("NAME = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "lazypkg_inits", 0, raising=False)
    yield package
    for name in [m for m in sys.modules if m == "lazypkg" or m.startswith("lazypkg.")]:
        del sys.modules[name]


def test_submodules_import_without_the_packages_init(lazypkg: Path) -> None:
    assert defer_init("lazypkg", {"NAME": "lazypkg.named:NAME"})
    from lazypkg import light  # a submodule asked for by name: imported, no __init__
    from lazypkg.light import LIGHT

    assert (LIGHT, light.LIGHT) == (2, 2)
    assert sys.modules["lazypkg"].NAME == 3
    assert "lazypkg.heavy" not in sys.modules
    assert sys.lazypkg_inits == 0  # type: ignore[attr-defined]


def test_any_other_name_runs_the_real_init_once(lazypkg: Path) -> None:
    assert defer_init("lazypkg")
    import lazypkg

    assert lazypkg.TOP == "top"
    assert lazypkg.WEIGHT == 1
    assert sys.lazypkg_inits == 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = lazypkg.missing


def test_an_imported_package_or_a_plain_module_is_left_alone(lazypkg: Path) -> None:
    import lazypkg

    assert not defer_init("lazypkg")
    assert sys.modules["lazypkg"] is lazypkg
    assert not defer_init("json.decoder")
