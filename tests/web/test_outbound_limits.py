"""One account cannot starve everyone's provider calls: slots per account and destination, an
overall deadline per Test, and per-account rate limits on Test and saves (shared through Redis)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from rolecall.app import create_app
from rolecall.config import LimitSettings, NetworkSettings
from tests.conftest import REDIS_URL
from tests.factories import e2e_record
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, make_client, sign_up


@pytest.fixture(scope="module")
def healthy() -> Iterator[FakeOpenAI]:
    """A second, well-behaved upstream (its own port, so its own destination)."""
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


def limited_settings(make_settings, **limits):  # type: ignore[no-untyped-def]
    rules = {"outbound_per_account": 3, "outbound_per_origin": 4, "test_deadline": 2.0} | limits
    # A pool of 6 connections stands in for the real 100: small enough to fill in a test.
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"], max_connections=6, connect_timeout=1.0),
                         limits=LimitSettings(**rules))


async def person(app, name: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    client = make_client(app)
    assert (await sign_up(client, name)).status_code == 201
    account_id = (await client.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    assert (await client.post("/api/encryption/setup", json=record, headers=await csrf_headers(client))).status_code == 201
    return client


async def check_key(client: httpx.AsyncClient, base_url: str) -> httpx.Response:
    return await client.post("/api/provider-configs/test", json={"provider_id": "openai", "base_url": base_url,
                                                                   "api_key": VALID_KEY}, headers=await csrf_headers(client))


async def test_an_abusive_account_does_not_starve_another(make_settings, fake_openai, healthy) -> None:  # type: ignore[no-untyped-def]
    fake_openai.models_drip = 0.5  # one byte every half second: never done
    app = create_app(limited_settings(make_settings))
    async with LifespanManager(app):
        mallory, alice, carol = [await person(app, n) for n in ("mallory", "alice", "carol")]
        abuse = asyncio.gather(*(check_key(mallory, fake_openai.base_url) for _ in range(6)))
        for _ in range(500):  # the fake answers in its own thread: poll until three calls hang there
            if len(fake_openai.requests) >= 3:
                break
            await asyncio.sleep(0.02)
        # alice's healthy Test is not stuck behind mallory's six.
        fine = await asyncio.wait_for(check_key(alice, healthy.base_url), timeout=10)
        assert fine.status_code == 200 and fine.json()["status"] == "valid", fine.json()
        # carol may use the slow destination too, but it has only 4 slots for everyone together.
        crowd = await asyncio.wait_for(asyncio.gather(*(check_key(carol, fake_openai.base_url) for _ in range(2))), timeout=10)
        assert sorted(r.status_code for r in crowd) == [200, 429]
        assert "Too many calls to http://127.0.0.1:" in next(r for r in crowd if r.status_code == 429).json()["error"]

        answers = await asyncio.wait_for(abuse, timeout=10)
        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) == 3
        assert refused[0].headers["retry-after"] == "5" and refused[0].json()["code"] == "rate_limited"
        assert refused[0].json()["error"] == "You have 3 provider calls running already. Wait for one to finish, then try again."
        # The three that ran were cut at the 2-second deadline: "couldn't check", not a verdict.
        ran = [a.json() for a in answers if a.status_code == 200]
        assert len(ran) == 3 and {(r["status"], r["kind"]) for r in ran} == {("unchecked", "timeout")}
        assert {r["headline"] for r in ran} == {"Timed out"}
        # With the slots given back, mallory can test a healthy key again.
        assert (await check_key(mallory, healthy.base_url)).json()["status"] == "valid"
        for client in (mallory, alice, carol):
            await client.aclose()


async def test_tests_per_minute_are_limited_per_account(make_settings, healthy) -> None:  # type: ignore[no-untyped-def]
    app = create_app(limited_settings(make_settings, tests_per_minute=3))
    async with LifespanManager(app):
        mallory, alice = await person(app, "mallory"), await person(app, "alice")
        assert [(await check_key(mallory, healthy.base_url)).status_code for _ in range(3)] == [200] * 3
        limited = await check_key(mallory, healthy.base_url)
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        body = limited.json()
        assert body["ok"] is False and body["code"] == "rate_limited"
        assert body["error"].startswith("You've tested keys 3 times in the last minute. Wait ")
        assert (await check_key(alice, healthy.base_url)).status_code == 200
        await mallory.aclose()
        await alice.aclose()


async def test_rate_limits_are_shared_between_replicas_through_redis(make_settings, healthy) -> None:  # type: ignore[no-untyped-def]
    settings = limited_settings(make_settings, tests_per_minute=2, saves_per_minute=2).model_copy(
        update={"redis_url": REDIS_URL, "redis_prefix": f"test-{secrets.token_hex(4)}", "embedded_worker": True})
    first, second = create_app(settings), create_app(settings)
    async with LifespanManager(first), LifespanManager(second):
        mallory = await person(first, "mallory")
        elsewhere = make_client(second)
        elsewhere.cookies = mallory.cookies
        assert (await check_key(mallory, healthy.base_url)).status_code == 200
        assert (await check_key(elsewhere, healthy.base_url)).status_code == 200
        assert (await check_key(mallory, healthy.base_url)).status_code == 429
        assert (await check_key(elsewhere, healthy.base_url)).status_code == 429
        save = {"provider_id": "openai", "base_url": healthy.base_url, "api_key": VALID_KEY, "privacy_mode": "srv"}
        codes = []
        for n, client in enumerate((mallory, elsewhere, mallory)):
            saved = await client.post("/api/provider-configs", json={**save, "label": f"c{n}"}, headers=await csrf_headers(client))
            codes.append(saved.status_code)
        assert codes == [201, 201, 429]
        assert saved.json()["error"].startswith("You've saved configs 2 times in the last minute.")
        await mallory.aclose()
        await elsewhere.aclose()
