"""Failed log-ins are limited per name and address, across replicas when Redis is configured."""

from __future__ import annotations

import secrets

import httpx
from asgi_lifespan import LifespanManager

from rolecall.app import create_app
from tests.conftest import REDIS_URL
from tests.helpers import PASSWORD, csrf_headers, make_client


async def _login(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"name": "alice", "password": password}, headers=await csrf_headers(client))


async def test_too_many_failures_lock_out_even_the_right_password(make_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(login_attempts=3, login_window_seconds=60))
    async with LifespanManager(app), make_client(app) as client:
        await client.post("/api/auth/signup", json={"name": "alice", "password": PASSWORD}, headers=await csrf_headers(client))
        for _ in range(3):
            assert (await _login(client, "wrong password")).status_code == 401
        locked = await _login(client, PASSWORD)
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "60"
        assert locked.json()["error"] == "Too many failed log-ins. Wait a few minutes, then try again."
        # Someone else, from another address, is not locked out.
        async with make_client(app, client_ip="10.9.8.7") as elsewhere:
            assert (await _login(elsewhere, PASSWORD)).status_code == 200


async def test_limit_is_shared_between_replicas_through_redis(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(login_attempts=2, redis_url=REDIS_URL, redis_prefix=f"test-{secrets.token_hex(4)}", embedded_worker=True)
    first, second = create_app(settings), create_app(settings)
    async with LifespanManager(first), LifespanManager(second):
        async with make_client(first) as a, make_client(second) as b:
            await a.post("/api/auth/signup", json={"name": "alice", "password": PASSWORD}, headers=await csrf_headers(a))
            assert (await _login(a, "wrong password")).status_code == 401
            assert (await _login(b, "wrong password")).status_code == 401
            assert (await _login(a, PASSWORD)).status_code == 429
            assert (await _login(b, PASSWORD)).status_code == 429
