from kadath_web import register, PASSWORD
async def test_x(client, admin):
    r = await client.post("/api/auth/register", json={"username": "abcdef", "password": PASSWORD, "invite_code": "a\x00b"})
    print("REGISTER", r.status_code, r.text[:600])
    r = await client.get("/api/rooms", params={"zone": "a\x00b"}, headers=admin.headers)
    print("ZONE", r.status_code, r.text[:300])
    r = await client.get("/api/rooms/a%00b", headers=admin.headers)
    print("ROOM", r.status_code, r.text[:300])
    r = await client.post("/api/auth/login", data={"username": "ab\x00", "password": "x"*100000})
    print("LOGIN", r.status_code, r.text[:300])
