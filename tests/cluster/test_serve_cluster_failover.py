"""``kadath serve --cluster``: when the process holding a zone is gone, a client relayed to it,
and a new one, are told to try again; when it stops in order, the relayed client hears the
shutdown as a directly connected one would (each test has a cluster of its own: it stops a
process)."""

from __future__ import annotations

import signal

import pytest
from kadath_serve import START_ZONE, Client, Cluster, new_character

from kadath.realtime.protocol import CLOSE_RESTART, CLOSE_TRY_AGAIN_LATER

pytestmark = [pytest.mark.postgres, pytest.mark.fault]


async def test_when_the_holder_is_gone_the_client_is_told_to_try_again(
    own_cluster: Cluster,
) -> None:
    """Beta (holding the start zone) is killed. A relayed client hears "try again" (1013) once the
    holder has been silent for a lease; a new connection hears it at once (nobody answers for
    the zone, which is pinned to beta, so alpha does not take it)."""
    cluster = own_cluster
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.alpha.ws_url)
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        await cluster.beta.close()  # SIGKILL
        assert await client.closed() == CLOSE_TRY_AGAIN_LATER
        error = client.received[-1]
        assert error["type"] == "error" and "reorganising" in error["text"], client.received
        assert client.seqs == list(range(1, len(client.seqs) + 1))
    finally:
        await client.ws.close()
    again = await Client.open(cluster.alpha.ws_url)
    try:
        refused = await again.hello(token, name)
        assert refused["type"] == "error" and "reorganising" in refused["text"], refused
        assert await again.closed() == CLOSE_TRY_AGAIN_LATER
    finally:
        await again.ws.close()


async def test_when_the_holder_stops_a_relayed_client_hears_the_shutdown(
    own_cluster: Cluster,
) -> None:
    """SIGTERM to beta: its session for the client relayed by alpha is saved, told and closed
    (1012) as a direct one would be, through the tunnel; seq stays gap-free; beta gives its
    zone back."""
    cluster = own_cluster
    token, name = await new_character(cluster.http)
    client = await Client.open(cluster.alpha.ws_url)
    try:
        assert (await client.hello(token, name))["type"] == "welcome"
        assert (await client.command("look"))["ok"] is True
        cluster.beta.signal(signal.SIGTERM)
        assert await client.closed() == CLOSE_RESTART
        assert client.received[-1].get("event") == "shutdown", client.received
        assert client.seqs == list(range(1, len(client.seqs) + 1))
        assert await cluster.beta.wait() in (0, -signal.SIGTERM)  # uvicorn re-raises it
        assert [e["zone"] for e in cluster.beta.events("zone_released")] == [START_ZONE]
    finally:
        await client.ws.close()
