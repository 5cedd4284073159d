"""An End-to-End key handed over for one message reaches the provider's auth header and nothing else:
not the database, not a log line (DEBUG included), not Redis, not any response."""

from __future__ import annotations

import logging
import secrets

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from rolecall.config import NetworkSettings
from rolecall.storage.tables import Base
from tests.conftest import REDIS_URL
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.scene_helpers import Owner, e2e_config, only, post, reply_text, scene_with, set_up_owner, stream

# Not shaped like any provider key, so the log scrubber could not hide it: it must never be logged at all.
CANARY = "canaryE2E7f3a9c1d5e8b2a4c6d0e9f1a3b5c7d9e"


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]), redis_url=REDIS_URL,
                         redis_prefix=f"test-{secrets.token_hex(4)}", embedded_worker=True)


async def _redis_holds(needle: bytes) -> list[str]:
    client = aioredis.from_url(REDIS_URL)
    found = []
    try:
        async for key in client.scan_iter(count=500):
            kind = (await client.type(key)).decode()
            if kind == "string":
                values = [await client.get(key) or b""]
            elif kind == "hash":
                values = [k + v for k, v in (await client.hgetall(key)).items()]
            elif kind == "list":
                values = await client.lrange(key, 0, -1)
            elif kind == "set":
                values = list(await client.smembers(key))
            elif kind == "zset":
                values = await client.zrange(key, 0, -1)
            else:
                values = []
            if needle in key or any(needle in v for v in values):
                found.append(key.decode())
    finally:
        await client.aclose()
    return found


async def test_canary_key_is_used_once_and_kept_nowhere(app, alice: httpx.AsyncClient, fake_openai,  # type: ignore[no-untyped-def]
                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    owner: Owner = await set_up_owner(alice)
    fake_openai.keys = {CANARY}
    fake_openai.echo_key = True  # a 401 repeats the key, as some providers do
    config_id = await e2e_config(owner, "openai", fake_openai.base_url, CANARY)
    scene = await scene_with(owner.client, config_id)
    handed = {"api_key": CANARY, "headers": {}}
    bodies: list[str] = []

    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Hello", "key": handed})
    assert reply_text(events) and only(events, "done")["status"] == "complete"
    assert fake_openai.last.headers["authorization"] == f"Bearer {CANARY}"  # it did reach the provider
    bodies.append(repr(events))
    # A provider error that quotes the key, before and during the stream.
    fake_openai.stream_error = {"message": f"bad request from key {CANARY}", "code": 400}
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Again", "key": handed})
    assert only(events, "error")["kind"] == "bad_request"
    bodies.append(repr(events))
    fake_openai.stream_error = None
    fake_openai.keys = {"sk-another-key-00000000000000"}
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Once more", "key": handed})
    assert only(events, "error")["kind"] == "auth"
    bodies.append(repr(events))
    refused = await post(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "x" * 200_000, "key": handed})
    assert refused.status_code == 422
    bodies.append(refused.text)
    for path in (f"/api/scenes/{scene['id']}", "/api/scenes", "/api/provider-configs", "/api/catalog"):
        bodies.append((await owner.client.get(path)).text)

    assert not [b for b in bodies if CANARY in b]
    assert CANARY not in caplog.text
    assert not [r for r in caplog.records if CANARY in r.getMessage() or CANARY in (r.exc_text or "")]
    res = app.state.res
    async with res.db() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                assert CANARY not in repr(tuple(row)), table.name
    assert await _redis_holds(CANARY.encode()) == []
