"""``kadath serve --cluster``: when the process holding a zone is gone, a client relayed to it,
and a new one, are told to try again (a module of its own: it kills a process)."""

from __future__ import annotations

import pytest
from kadath_serve import Client, Cluster, new_character

from kadath.realtime.protocol import CLOSE_TRY_AGAIN_LATER

pytestmark = [pytest.mark.postgres, pytest.mark.fault]


async def test_when_the_holder_is_gone_the_client_is_told_to_try_again(
    serve_cluster: Cluster,
) -> None:
    """Beta (holding the start zone) is killed. A relayed client hears "try again" (1013) once the
    holder has been silent for a lease; a new connection hears it at once (nobody answers for
    the zone, which is pinned to beta, so alpha does not take it)."""
    cluster = serve_cluster
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
