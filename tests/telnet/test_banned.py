"""A banned account is refused at the telnet sign-in, with the reason, as over REST."""

from __future__ import annotations

from kadath_e2e import PASSWORD, Api, bearer, new_account
from kadath_telnet import TelnetClient, telnet_port


async def test_a_banned_account_cannot_sign_in_over_telnet(server) -> None:
    api = Api.to(server.base_url)
    client = await TelnetClient.open(telnet_port(server))
    try:
        keeper = await new_account(api, "keeper")
        banned = await new_account(api)
        response = await api.http.put(
            f"/api/admin/accounts/{banned.username}/ban",
            json={"duration": "forever", "reason": "spam bot"},
            headers=bearer(keeper.token),
        )
        assert response.status_code == 200, response.text
        await client.until("Account name")
        client.line(banned.username)
        await client.until("Password:")
        client.line(PASSWORD)
        await client.until("This account is banned for good: spam bot")
        await client.until("Account name")
    finally:
        await client.close()
        await api.aclose()
