"""A signed-in request's session is answered from the shared cache, and ending it still ends it at
once: on every replica, against a lookup racing the log-out, and at its expiry. An access token's
check, cached the same way, loses the same race to a revocation."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import update

from rolecall.app import create_app
from rolecall.services import accounts
from rolecall.storage.cache import MemoryCache
from rolecall.storage.tables import LoginSession, utcnow
from tests.conftest import REDIS_URL
from tests.helpers import csrf_headers, make_client, sign_up


async def test_a_log_out_reaches_every_replica_through_redis(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(redis_url=REDIS_URL, redis_prefix=f"test-{secrets.token_hex(4)}", embedded_worker=True)
    first, second = create_app(settings), create_app(settings)
    async with LifespanManager(first), LifespanManager(second):
        async with make_client(first) as a, make_client(second) as b:
            assert (await sign_up(a, "alice")).status_code == 201
            b.cookies.set("rc_session", a.cookies["rc_session"])
            assert (await b.get("/api/me")).json()["name"] == "alice"  # the session is in the cache now
            assert (await a.get("/api/me")).json()["name"] == "alice"
            assert (await a.post("/api/auth/logout", headers=await csrf_headers(a))).status_code == 204
            assert (await b.get("/api/me")).status_code == 401


async def test_a_stolen_cookie_stops_working_at_log_out_even_after_use(alice: httpx.AsyncClient) -> None:
    stolen = alice.cookies["rc_session"]
    for _ in range(2):
        assert (await alice.get("/api/me")).status_code == 200
    await alice.post("/api/auth/logout", headers=await csrf_headers(alice))
    alice.cookies.set("rc_session", stolen)
    assert (await alice.get("/api/me")).status_code == 401
    assert (await alice.get("/api/scenes")).status_code == 401


async def test_a_session_expires_on_time_though_it_was_answered_from_the_cache(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    async with app.state.res.db.begin() as s:
        await s.execute(update(LoginSession).values(expires_at=utcnow() + timedelta(seconds=1.5)))
    assert (await alice.get("/api/me")).status_code == 200
    assert (await alice.get("/api/me")).status_code == 200
    await asyncio.sleep(1.6)
    assert (await alice.get("/api/me")).status_code == 401


async def test_a_lookup_that_read_the_session_just_before_log_out_does_not_bring_it_back(app, alice) -> None:  # type: ignore[no-untyped-def]
    db = app.state.res.db
    token = alice.cookies["rc_session"]

    class LogOutLandsMidLookup(MemoryCache):
        """The log-out commits after the lookup read the row and before it fills the cache."""

        async def add(self, key: str, value: bytes, ttl: float) -> bool:
            await accounts.end_session(db, self, token)
            return await super().add(key, value, ttl)

    cache = LogOutLandsMidLookup()
    assert await accounts.session_account(db, cache, token) is None
    assert await accounts.session_account(db, cache, token) is None


async def test_an_unknown_token_fills_nothing(app) -> None:  # type: ignore[no-untyped-def]
    cache = MemoryCache()
    for _ in range(3):
        assert await accounts.session_account(app.state.res.db, cache, secrets.token_urlsafe(32)) is None
    assert cache._items == {}


async def test_an_access_token_check_that_read_the_row_just_before_revocation_does_not_bring_it_back(app, alice) -> None:  # type: ignore[no-untyped-def]
    from rolecall.services import access_tokens

    db = app.state.res.db
    account_id = (await alice.get("/api/me")).json()["id"]
    created = await access_tokens.create(db, account_id, "laptop", ["chat"])

    class RevocationLandsMidCheck(MemoryCache):
        """The revocation commits after the check read the row and before it fills the cache."""

        async def add(self, key: str, value: bytes, ttl: float) -> bool:
            await access_tokens.revoke(db, self, account_id, created.view.id)
            return await super().add(key, value, ttl)

    cache = RevocationLandsMidCheck()
    for _ in range(2):
        with pytest.raises(access_tokens.TokenRefused, match="revoked"):
            await access_tokens.authenticate(db, cache, created.token)
