"""Parallel log-in attempts: counted before the password check, and hashed a few at a time."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from asgi_lifespan import LifespanManager

from rolecall.app import create_app
from rolecall.services.accounts import HASH_CONCURRENCY, PASSWORD_HASHES
from tests.conftest import REDIS_URL
from tests.helpers import PASSWORD, csrf_headers, make_client


@pytest.mark.parametrize("shared", [False, True], ids=["in-process cache", "redis"])
async def test_forty_parallel_wrong_passwords_meet_the_limit_of_ten(make_settings, shared: bool) -> None:  # type: ignore[no-untyped-def]
    extra = {"redis_url": REDIS_URL, "redis_prefix": f"test-{secrets.token_hex(4)}", "embedded_worker": True} if shared else {}
    app = create_app(make_settings(login_attempts=10, **extra))
    async with LifespanManager(app), make_client(app) as client:
        headers = await csrf_headers(client)
        await client.post("/api/auth/signup", json={"name": "alice", "password": PASSWORD}, headers=headers)
        PASSWORD_HASHES.peak = 0
        answers = await asyncio.gather(*(
            client.post("/api/auth/login", json={"name": "alice", "password": f"wrong {n}"}, headers=headers)
            for n in range(40)))
        codes = sorted(a.status_code for a in answers)
        assert codes == [401] * 10 + [429] * 30
        limited = next(a for a in answers if a.status_code == 429)
        assert limited.headers["retry-after"] and limited.json()["code"] == "rate_limited"
        # Even the right password waits out the window now.
        right = await client.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=headers)
        assert right.status_code == 429
        assert 1 <= PASSWORD_HASHES.peak <= HASH_CONCURRENCY


async def test_logging_in_fine_is_never_throttled(make_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(login_attempts=2))
    async with LifespanManager(app), make_client(app) as client:
        headers = await csrf_headers(client)
        await client.post("/api/auth/signup", json={"name": "alice", "password": PASSWORD}, headers=headers)
        for _ in range(4):
            answer = await client.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=headers)
            assert answer.status_code == 200


async def test_a_burst_of_sign_ups_hashes_a_few_at_a_time(client) -> None:  # type: ignore[no-untyped-def]
    headers = await csrf_headers(client)
    PASSWORD_HASHES.peak = 0
    answers = await asyncio.gather(*(
        client.post("/api/auth/signup", json={"name": f"user{n}", "password": PASSWORD}, headers=headers)
        for n in range(12)))
    assert [a.status_code for a in answers] == [201] * 12
    assert PASSWORD_HASHES.peak == HASH_CONCURRENCY
