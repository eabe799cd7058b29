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
# `make run` serves with PYTHONOPTIMIZE=2 (python -OO): no docstrings loaded, ~5.7 MiB less idle
# memory (docs/performance.md, "Idle memory, third pass"); Kadath reads the few it shows people
# (in-game help, the OpenAPI descriptions) from its source (kadath.docstrings). That level has
# bytecode files of its own (.opt-2.pyc), compiled here for the game and its dependencies.
# Those files are compiled without Python 3.11's column tables (PYTHONNODEBUGRANGES: a
# traceback keeps its line numbers, loses the ^^^ under the expression), and the server runs
# with at most two malloc arenas (glibc makes one per thread that allocates; aiosqlite's and
# the hashing pool's threads each kept one mostly empty): together ~0.7 MiB less idle memory
# (docs/performance.md, "Idle memory, fifth pass").
SERVE_OPTIMIZE := 2
SERVE_ENV := PYTHONOPTIMIZE=$(SERVE_OPTIMIZE) PYTHONNODEBUGRANGES=1 MALLOC_ARENA_MAX=2
COMPILE_OPT2 = PYTHONNODEBUGRANGES=1 $(UV) run --frozen --no-sync python -m compileall -q -j 0 -o $(SERVE_OPTIMIZE) \
  src $$($(UV) run --frozen --no-sync python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

# deps: the game and the development tools (tests, linters); run-deps: the game only, so the
# server does not carry what only the tools need (structlog imports rich when it is there).
deps: uv
	@UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --quiet
	@$(COMPILE_SRC)

run-deps: uv
	@UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --quiet --no-dev
	@$(COMPILE_SRC)
	@$(COMPILE_OPT2)

run: run-deps
	$(SERVE_ENV) $(UV) run --frozen --no-dev kadath serve

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
