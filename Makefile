# Kadath: `make run` starts the server, `make test` runs the whole suite.
# Both install what they need (uv, then the locked dependencies) on first use.

SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: run test lint typecheck deps run-deps uv bench clean

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
	  python3 -m pip install --user --quiet uv || \
	  python3 -m pip install --user --quiet --break-system-packages uv

# Bytecode is compiled at install, once: with PYTHONDONTWRITEBYTECODE=1 (set on many machines)
# Python would otherwise compile every module from source on every start. uv compiles the
# dependencies (also in a venv synced before); kadath itself is installed editable from src/,
# which uv leaves alone, so compileall does it (it writes whatever PYTHONDONTWRITEBYTECODE says).
COMPILE_SRC = $(UV) run --frozen --no-sync python -m compileall -q -j 0 src

# deps: the game and the development tools (tests, linters); run-deps: the game only, so the
# server does not carry what only the tools need (structlog imports rich when it is there).
deps: uv
	@UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --quiet
	@$(COMPILE_SRC)

run-deps: uv
	@UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --quiet --no-dev
	@$(COMPILE_SRC)

run: run-deps
	$(UV) run --frozen --no-dev kadath serve

lint: deps
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

typecheck: deps
	$(UV) run --frozen mypy

test: lint typecheck
	$(UV) run --frozen pytest --cov --cov-report=term --cov-fail-under=85

bench: deps
	$(UV) run --frozen python bench/persistence.py --backend both

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov
