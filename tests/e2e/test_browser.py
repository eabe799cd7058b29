"""The browser client against a real server, in headless Chromium: sign up, create an
investigator, enter the game, walk, and hear another player speak."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kadath_e2e import Api, GameClient, RunningServer, new_character, unique_name

from kadath.web.websocket_protocol import AbortableWebSocketProtocol, SharedDeflate

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("KADATH_TEST_CHROMIUM") or shutil.which("chromium")
HAVE_CHROMIUM = bool(CHROMIUM) and os.path.exists(str(CHROMIUM))
WAIT_MS = 10_000

async_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def page(server: RunningServer) -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip("no chromium binary: install Debian's chromium or set KADATH_TEST_CHROMIUM")
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            context = await browser.new_context(base_url=server.base_url)
            context.set_default_timeout(WAIT_MS)
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page
            assert errors == [], f"the page raised: {errors}"
        finally:
            await browser.close()


async def test_a_new_player_signs_up_creates_an_investigator_walks_and_hears_another_player(
    server: RunningServer, api: Api, page: Any
) -> None:
    expect, p = async_api.expect, page
    username, name = unique_name("u"), unique_name("B")
    professions = (await api.http.get("/api/professions")).json()
    easiest = min(professions, key=lambda x: sum(x["requirements"].values()))

    # sign up (the client signs in with the same credentials afterwards)
    await p.goto("/")
    await p.click("#tab-register")
    await p.fill("#register-username", username)
    await p.fill("#register-password", "correct horse battery")
    await p.click("#register-submit")
    await expect(p.locator("#screen-characters")).to_be_visible()

    # create an investigator
    await p.fill("#create-name", name)
    await p.check(f"input[name=profession][value='{easiest['id']}']")
    await p.check("input[name=stats_method][value='4d6']")
    await p.click("#create-submit")
    entry = p.locator(f"#roster .character[data-name='{name}']")
    await expect(entry).to_be_visible()
    await expect(p.locator("#create-error")).to_be_hidden()

    # enter the game: the parlour, with its exits as buttons
    await entry.locator(".play-button").click()
    await expect(p.locator("#screen-game")).to_be_visible()
    await expect(p.locator("#room-name")).to_contain_text("Boarding House")
    await expect(p.locator("#health-text")).not_to_have_text("–")

    # walk: click the east exit, then come back by typing
    await p.locator("#exits .exit-button", has_text="east").click()
    await expect(p.locator("#room-name")).to_have_text("Garrison Street")
    await p.fill("#command-input", "w")
    await p.press("#command-input", "Enter")
    await expect(p.locator("#room-name")).to_contain_text("Boarding House")

    # Chromium took permessage-deflate with no context takeover either way, and its frames,
    # compressed or not, went the direct path
    running: Any = server._server
    (protocol,) = [
        c for c in running.server_state.connections if isinstance(c, AbortableWebSocketProtocol)
    ]
    (deflate,) = protocol.conn.extensions
    assert isinstance(deflate, SharedDeflate)
    assert protocol._direct

    # another player (over the protocol) steps into the same room and speaks
    other = await new_character(api)
    client = await GameClient.open(server.ws_url)
    try:
        await client.hello(other.token, other.name)
        await expect(p.locator("#output")).to_contain_text(f"{other.name} steps out of the fog")
        await client.command("say Ph'nglui mglw'nafh")
        said = p.locator("#output .ch-say").last
        await expect(said).to_have_text(f"{other.name} says, \"Ph'nglui mglw'nafh\"")

        # and hears the browser player's answer
        await p.fill("#command-input", "say Who goes there?")
        await p.press("#command-input", "Enter")
        heard = await client.wait_message("say")
        assert heard["text"] == f'{name} says, "Who goes there?"'

        # a channel message is its own style, and shown as text, never as markup
        await client.command("ooc <b>Anyone</b> at the library?")
        chan = p.locator("#output .chan-ooc").last
        await expect(chan).to_have_text(f"[ooc] {other.name}: <b>Anyone</b> at the library?")
        assert await chan.locator("b").count() == 0
    finally:
        await client.close()
