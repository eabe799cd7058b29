"""A cluster role refuses settings it cannot run on: SQLite, no NATS, too short a lease."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kadath.cli import main
from kadath.cluster.config import NEEDS, cluster_config
from kadath.cluster.errors import ClusterRefused
from kadath.settings import Settings

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/kadath"
NATS = "nats://127.0.0.1:4222"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "NATS_URL", "ZONE_LEASE_SECONDS", "ZONE_RENEW_SECONDS"):
        monkeypatch.delenv(f"KADATH_{name}", raising=False)
    monkeypatch.setenv("KADATH_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env file


@pytest.mark.parametrize("command", ["engine", "zones"])
@pytest.mark.parametrize(
    ("database", "nats"),
    [(None, NATS), (PG, None), (None, None)],
    ids=["sqlite", "no-nats", "neither"],
)
def test_a_cluster_command_without_postgresql_and_nats_is_refused_with_exit_2(
    command: str,
    database: str | None,
    nats: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if database:
        monkeypatch.setenv("KADATH_DATABASE_URL", database)
    if nats:
        monkeypatch.setenv("KADATH_NATS_URL", nats)

    assert main([command]) == 2

    err = capsys.readouterr().err
    assert NEEDS in err
    assert "KADATH_DATABASE_URL=postgresql+asyncpg://" in err
    assert "KADATH_NATS_URL=nats://" in err


def test_the_refusal_from_a_real_process(tmp_path: Path) -> None:
    env = {"KADATH_NATS_URL": NATS, "KADATH_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "kadath", "engine"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "a cluster needs PostgreSQL and NATS" in done.stderr
    assert "found: database sqlite" in done.stderr


def test_a_lease_shorter_than_three_renewals_is_refused() -> None:
    settings = Settings(database_url=PG, nats_url=NATS, zone_lease_seconds=5, zone_renew_seconds=2)
    with pytest.raises(ClusterRefused, match="at least 3 renewal periods"):
        cluster_config(settings)


def test_postgresql_and_nats_make_a_cluster_config() -> None:
    settings = Settings(
        database_url=PG, nats_url=NATS, engine_id="e1", zone_lease_seconds=6, zone_renew_seconds=2
    )
    config = cluster_config(settings)
    assert (config.nats_url, config.engine_id, config.lease_seconds) == (NATS, "e1", 6)


def test_single_process_settings_need_no_nats() -> None:
    settings = Settings()
    assert settings.nats_url is None
    assert settings.is_sqlite


@pytest.mark.parametrize("command", ["engine", "zones"])
def test_a_database_that_does_not_answer_exits_1_with_the_reason(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/kadath"
    monkeypatch.setenv("KADATH_DATABASE_URL", closed)
    monkeypatch.setenv("KADATH_NATS_URL", NATS)

    assert main([command]) == 1

    assert "cannot reach PostgreSQL" in capsys.readouterr().err


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "args", [["zones", "move", "arkham"], ["zones", "pin"], ["zones", "unpin"]]
)
def test_zone_commands_missing_arguments_are_usage_errors(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
