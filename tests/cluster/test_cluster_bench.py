"""bench/cluster.py still runs: a quick pass (20 players, 1 gateway + 1 engine) in which every
command is answered exactly once and no frame is lost. No speed is checked here (the figures
live in docs/scaling.md and docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kadath_cluster import PG_URL, nats_server_binary

pytestmark = [pytest.mark.postgres]
BENCH = Path(__file__).resolve().parents[2] / "bench" / "cluster.py"


@pytest.mark.timeout(300)
def test_the_cluster_benchmark_answers_every_relayed_command_once(tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    if nats_server_binary() is None:
        pytest.skip("nats-server is not installed")
    out = tmp_path / "cluster.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--configs", "g1e1", "--postgres", PG_URL,
         "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    (result,) = json.loads(out.read_text())["results"]
    assert result["config"] == "g1e1"
    assert [p["kind"] for p in result["processes"]] == ["engine", "gateway"]
    assert result["connected"] == result["players"] == 20
    assert result["relayed_at_connect"] == 20  # the gateway holds no zone
    assert result["replies_in_window"] > 0
    assert result["sent_in_window"] > 0
    for fault in ("unanswered", "stray_replies", "seq_faults", "disconnects"):
        assert result[fault] == 0, (fault, result)
    assert result["nats_per_command"]["in_msgs"] > 0  # the commands went through NATS


@pytest.mark.timeout(300)
def test_the_cluster_benchmark_places_following_clients_and_loses_nothing(tmp_path: Path) -> None:
    """``place2``: half the clients connect to the process not holding their zone, follow its
    ``moved`` to the holder, and every command is still answered once, ``seq`` gap-free on
    each connection."""
    if not PG_URL:
        pytest.skip("KADATH_TEST_POSTGRES_URL is not set")
    if nats_server_binary() is None:
        pytest.skip("nats-server is not installed")
    out = tmp_path / "place.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADATH_")}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--configs", "place2", "--postgres", PG_URL,
         "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    (result,) = json.loads(out.read_text())["results"]
    assert result["config"] == "place2"
    assert result["connected"] == result["players"] == 20
    assert result["moves"] >= result["relayed_at_connect"] > 0
    assert result["replies_in_window"] > 0
    for fault in ("unanswered", "stray_replies", "seq_faults", "disconnects"):
        assert result[fault] == 0, (fault, result)
