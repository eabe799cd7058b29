"""``kadath zones``: the table of owners and epochs, and pinning, against real NATS and
PostgreSQL (an engine's lease manager in this process holds the zones)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest
from kadath_cluster import RENEW_SECONDS, PrivateNats, cluster_config

from kadath.cli import main
from kadath.cluster.fencing import confirm
from kadath.cluster.leases import ZoneLeaseManager, close, connect, open_bucket
from kadath.persistence.engine import create_engine
from kadath.world import DEFAULT_WORLD_DIR, load_world

pytestmark = pytest.mark.postgres
ZONES = sorted(load_world(DEFAULT_WORLD_DIR).zones)
LONG_LEASE_SECONDS = 600.0


@pytest.fixture
def cluster_env(
    database_url: str, nats_server: PrivateNats, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KADATH_DATABASE_URL", database_url)
    monkeypatch.setenv("KADATH_NATS_URL", nats_server.url)
    monkeypatch.setenv("KADATH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KADATH_WORLD_DIR", raising=False)


async def hold(database_url: str, nats_url: str, engine: str, zones: list[str]) -> None:
    # Nothing renews these leases: they must outlast the test on a slow machine.
    config = cluster_config(database_url, nats_url, engine, lease_seconds=LONG_LEASE_SECONDS)
    nc = await connect(config, engine)
    database = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        manager = ZoneLeaseManager(
            await open_bucket(nc, config),
            owner=engine,
            lease_seconds=LONG_LEASE_SECONDS,
            renew_seconds=RENEW_SECONDS,
            confirm=functools.partial(confirm, database),
        )
        for zone in zones:
            assert await manager.acquire(zone) is not None
    finally:
        await close(nc)
        await database.dispose()


@pytest.mark.usefixtures("cluster_env")
def test_zones_lists_each_zone_with_its_owner_and_epoch_from_nats_and_postgresql(
    database_url: str, nats_server: PrivateNats, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["zones"]) == 0
    empty = capsys.readouterr().out.splitlines()
    assert empty[0].split()[:3] == ["ZONE", "OWNER", "EPOCH"]
    assert empty[0].endswith("PINNED TO  PLAYERS  NPCS")
    assert [line.split() for line in empty[1:]] == [[z, *"-" * 7] for z in ZONES]

    asyncio.run(hold(database_url, nats_server.url, "engine-a", ZONES[:1]))
    capsys.readouterr()  # its log lines
    assert main(["zones", "pin", ZONES[1], "engine-b"]) == 0
    assert capsys.readouterr().out.strip() == f"zone {ZONES[1]} pinned to engine-b"
    assert main(["zones"]) == 0

    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    owner, epoch, recorded_owner, recorded_epoch, pinned, players, npcs = rows[ZONES[0]][1:]
    assert (owner, recorded_owner, pinned) == ("engine-a", "engine-a", "-")
    assert epoch == recorded_epoch != "-"
    assert (players, npcs) == ("-", "-")  # an engine that serves no one does not count
    assert rows[ZONES[1]][1:] == ["-", "-", "-", "-", "engine-b", "-", "-"]

    assert main(["zones", "unpin", ZONES[1]]) == 0
    assert main(["zones", "pin", "atlantis", "engine-b"]) == 2
    assert "no zone 'atlantis'" in capsys.readouterr().err
