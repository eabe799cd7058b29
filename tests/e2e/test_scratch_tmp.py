from kadath_e2e import GameClient
async def test_x(server, new_character):
    hero = await new_character()
    c = await GameClient.open(server.ws_url)
    await c.send_json({"type": "hello", "token": hero.token, "player": "Bad\x00Name"})
    print("HELLO", await c.wait_type("error"), await c.wait_closed())
