"""``python -m kadath.persistence.upgrade REVISION STATEMENT_TIMEOUT_MS``: the migration child
that ``kadath serve`` runs (``migrate.upgrade_apart``); the database URL comes in the environment
(``KADATH_MIGRATE_URL``), never on a command line."""

from __future__ import annotations

import asyncio
import os
import sys

from kadath.persistence import migrate
from kadath.persistence.engine import create_engine


async def _upgrade(url: str, revision: str, statement_timeout_ms: int) -> None:
    engine = create_engine(
        url, pool_size=1, max_overflow=0, statement_timeout_ms=statement_timeout_ms
    )
    try:
        await migrate.upgrade(engine, revision)
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    url = os.environ.get(migrate.URL_VARIABLE)
    if not url:
        print(f"{migrate.URL_VARIABLE} is not set", file=sys.stderr)
        return 2
    revision, timeout = (argv + ["head", "10000"][len(argv) :])[:2]
    asyncio.run(_upgrade(url, revision, int(timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
