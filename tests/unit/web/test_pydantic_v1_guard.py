"""kadath.web's guard on FastAPI's ``pydantic.v1`` check answers as FastAPI does."""

from __future__ import annotations

import warnings

import fastapi.utils
import pydantic

import kadath.web  # noqa: F401  (installs the guard)


def test_the_guard_is_installed() -> None:
    assert getattr(fastapi.utils.annotation_is_pydantic_v1, "kadath_guarded", False)


def test_a_pydantic_v1_model_is_still_recognised_once_pydantic_v1_is_loaded() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from pydantic import v1

    class Old(v1.BaseModel):
        name: str

    class New(pydantic.BaseModel):
        name: str

    assert fastapi.utils.annotation_is_pydantic_v1(Old)
    assert fastapi.utils.annotation_is_pydantic_v1(list[Old])
    assert not fastapi.utils.annotation_is_pydantic_v1(New)
