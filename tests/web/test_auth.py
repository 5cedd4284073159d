"""Sign up, log in, log out, over the JSON API and the HTML forms."""

from __future__ import annotations

import httpx

from tests.helpers import PASSWORD, csrf_headers, make_client, sign_up


async def test_sign_up_logs_in_and_me_answers(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "Ada")
    assert response.status_code == 201
    assert response.json()["name"] == "Ada"
    me = await client.get("/api/me")
    assert me.status_code == 200 and me.json()["name"] == "Ada"


async def test_log_out_then_me_is_refused(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/auth/logout", headers=await csrf_headers(alice))
    assert response.status_code == 204
    assert (await alice.get("/api/me")).status_code == 401


async def test_logged_out_session_token_cannot_be_replayed(alice: httpx.AsyncClient) -> None:
    stolen = alice.cookies["rc_session"]
    await alice.post("/api/auth/logout", headers=await csrf_headers(alice))
    alice.cookies.set("rc_session", stolen)
    assert (await alice.get("/api/me")).status_code == 401


async def test_log_in_with_right_password(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    async with make_client(app) as other:
        response = await other.post("/api/auth/login", json={"name": "ALICE", "password": PASSWORD}, headers=await csrf_headers(other))
        assert response.status_code == 200
        assert (await other.get("/api/me")).json()["name"] == "alice"


async def test_wrong_password_says_so(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    async with make_client(app) as other:
        response = await other.post("/api/auth/login", json={"name": "alice", "password": "nope nope nope"}, headers=await csrf_headers(other))
    assert response.status_code == 401
    assert response.json()["error"] == "That password is not right. Check it and try again."
    assert response.json()["field"] == "password"


async def test_unknown_name_says_so(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"name": "nobody", "password": PASSWORD}, headers=await csrf_headers(client))
    assert response.status_code == 401
    assert "There is no account named “nobody”" in response.json()["error"]


async def test_taken_name_is_refused_whatever_the_case(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    async with make_client(app) as other:
        response = await sign_up(other, "Alice")
    assert response.status_code == 409
    assert response.json()["error"] == "The name “Alice” is taken. Try another."
    assert response.json()["field"] == "name"


async def test_too_short_password_is_refused(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "bob", "short")
    assert response.status_code == 400
    assert response.json() == {
        "ok": False, "status": 400, "code": "invalid", "field": "password",
        "error": "Passwords need at least 8 characters.",
        "errors": [{"field": "password", "message": "Passwords need at least 8 characters."}],
    }


async def test_bad_name_is_refused(client: httpx.AsyncClient) -> None:
    for name in ("ab", "-leading", "has space", "x" * 41):
        response = await sign_up(client, name)
        assert response.status_code == 400, name
        assert response.json()["field"] == "name"


async def test_password_is_stored_as_argon2id(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from rolecall.storage.tables import Account

    async with app.state.res.db() as s:
        stored = await s.scalar(select(Account.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_session_cookie_flags(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "carol")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("rc_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # plain http in this test


async def test_session_cookie_is_secure_behind_https(app) -> None:  # type: ignore[no-untyped-def]
    async with make_client(app, base_url="https://testserver") as https_client:
        response = await sign_up(https_client, "dave")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("rc_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


async def test_signup_form_redirects_and_logs_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/signup")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post("/signup", data={"name": "erin", "password": PASSWORD, "csrf_token": token, "next": "/settings"})
    assert response.status_code == 303 and response.headers["location"] == "/settings"
    assert (await client.get("/api/me")).json()["name"] == "erin"


async def test_login_form_shows_the_error_and_keeps_the_name(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    async with make_client(app) as other:
        page = await other.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = await other.post("/login", data={"name": "alice", "password": "wrong password", "csrf_token": token})
    assert response.status_code == 401
    assert "That password is not right" in response.text
    assert 'value="alice"' in response.text


async def test_next_never_redirects_off_site(client: httpx.AsyncClient) -> None:
    page = await client.get("/signup")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post("/signup", data={"name": "frank", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"})
    assert response.headers["location"] == "/scenes"


async def test_logout_form_ends_the_session(alice: httpx.AsyncClient) -> None:
    token = (await alice.get("/api/csrf")).json()["csrf_token"]
    response = await alice.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert response.headers["clear-site-data"] == '"storage"'
    assert (await alice.get("/api/me")).status_code == 401
