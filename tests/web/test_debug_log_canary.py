"""At DEBUG level nothing secret reaches the log (issue 10, item 14).

The app runs with `setup_logging("DEBUG")` while a person signs up, sets up encryption, saves a
Server-Accessible key with a secret custom header and tests it against a fake that echoes
secrets back in its response headers. The log output must contain none of: the key (raw or
URL-encoded), the header secret (which has no recognisable key shape), the password, its hash,
the session token hash, or the wrapped vault key and its salt.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text

from rolecall.app import create_app
from rolecall.config import NetworkSettings
from rolecall.logs import setup_logging
from tests.factories import e2e_record
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.helpers import PASSWORD, csrf_headers

CANARY_KEY = "sk-canary-debug-0a1b2c3d4e5f6a7b8c9d"
HEADER_SECRET = "hdrCanary/9f8e7d+6c5b=="


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    setup_logging("DEBUG", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))


@pytest.fixture
async def app(captured, settings) -> AsyncIterator:  # type: ignore[no-untyped-def]
    application = create_app(settings)  # built after logging is at DEBUG, as `rolecall serve` does
    async with LifespanManager(application):
        yield application


async def test_nothing_secret_is_logged_at_debug(  # type: ignore[no-untyped-def]
    app, alice: httpx.AsyncClient, fake_openai, captured
) -> None:
    account_id = (await alice.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    answer = await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    assert answer.status_code == 201
    fake_openai.keys.add(CANARY_KEY)
    body = {"provider_id": "custom_openai", "base_url": fake_openai.base_url, "label": "canary", "privacy_mode": "srv",
            "api_key": CANARY_KEY, "headers": f"x-proxy-secret: {HEADER_SECRET}"}
    saved = await alice.post("/api/provider-configs", json=body, headers=await csrf_headers(alice))
    assert saved.status_code == 201, saved.text
    config_id = saved.json()["id"]
    echoes = {"x-echo-header": HEADER_SECRET, "x-echo-key": quote(CANARY_KEY, safe=""),
              "set-cookie": f"session={HEADER_SECRET}"}
    fake_openai.fail_next(429, None, echoes)
    for _ in range(2):  # one echoing rate limit, one valid answer
        path = f"/api/provider-configs/{config_id}/test"
        tested = await alice.post(path, json={}, headers=await csrf_headers(alice))
        assert tested.status_code == 200
    assert fake_openai.requests[-1].headers["x-proxy-secret"] == HEADER_SECRET

    async with app.state.res.db() as s:
        stored = [
            *(await s.execute(text("SELECT password_hash FROM account"))).scalars(),
            *(await s.execute(text("SELECT token_hash FROM login_session"))).scalars(),
            *(await s.execute(text("SELECT wrapped_udk FROM vault_key"))).scalars(),
            *(await s.execute(text("SELECT kdf_salt FROM vault_key"))).scalars(),
            *(await s.execute(text("SELECT credential_ct FROM provider_config"))).scalars(),
        ]
    output = captured.getvalue()
    assert "DEBUG" in output  # the app really logged at DEBUG
    secrets = [CANARY_KEY, quote(CANARY_KEY, safe=""), HEADER_SECRET, quote(HEADER_SECRET, safe=""), PASSWORD, *stored]
    for secret in secrets:
        assert secret not in output, f"{secret[:12]}… reached the log"
