"""Shared set-up for the OpenAI-compatible API tests: an account with configs and a token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from rolecall.config import NetworkSettings
from tests.factories import e2e_record
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, make_client, sign_up


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    # The fakes listen on loopback, which the default network policy refuses.
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))


@dataclass
class Person:
    client: httpx.AsyncClient  # signed in (session cookie)
    account_id: str
    udk: bytes


async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    return await client.post(path, json=body, headers=await csrf_headers(client))


async def person(app, name: str) -> Person:  # type: ignore[no-untyped-def]
    client = make_client(app)
    assert (await sign_up(client, name)).status_code == 201
    account_id = (await client.get("/api/me")).json()["id"]
    record, udk = e2e_record(account_id)
    assert (await post(client, "/api/encryption/setup", record)).status_code == 201
    return Person(client, account_id, udk)


async def add_server_config(who: Person, label: str, fake, *, test: bool = True, **extra) -> str:  # type: ignore[no-untyped-def]
    body = {"provider_id": "openai", "base_url": fake.base_url, "label": label, "privacy_mode": "srv",
            "api_key": VALID_KEY, **extra}
    if test:  # a tested config has its model list cached, which /v1/models lists
        tested = await post(who.client, "/api/provider-configs/test", {k: v for k, v in body.items()
                                                                        if k not in ("label", "privacy_mode")})
        assert tested.json()["status"] == "valid", tested.json()
        body["test_id"] = tested.json()["test_id"]
    saved = await post(who.client, "/api/provider-configs", body)
    assert saved.status_code == 201, saved.json()
    return str(saved.json()["id"])


async def add_e2e_config(who: Person, label: str, fake) -> str:  # type: ignore[no-untyped-def]
    from rolecall.crypto import Binding, e2e

    config_id = str(uuid.uuid4())
    resolved = (await post(who.client, "/api/provider-configs/resolve", {"provider_id": "openai", "base_url": fake.base_url})).json()
    credential = e2e.seal_bundle(who.udk, {"api_key": VALID_KEY}, 1,
                                 Binding(who.account_id, config_id, "openai", resolved["dest_origin"]))
    saved = await post(who.client, "/api/provider-configs", {
        "id": config_id, "provider_id": "openai", "base_url": fake.base_url, "label": label, "privacy_mode": "e2e",
        "credential": credential})
    assert saved.status_code == 201, saved.json()
    return config_id


async def new_token(who: Person, name: str = "script", scopes: list[str] | None = None,
                    expires_in_days: int | None = None) -> str:
    body: dict = {"name": name, "scopes": scopes or ["chat", "models"], "expires_in_days": expires_in_days}
    created = await post(who.client, "/api/access-tokens", body)
    assert created.status_code == 201, created.json()
    return str(created.json()["token"])


def sdk(app, token: str) -> openai.AsyncOpenAI:  # type: ignore[no-untyped-def]
    """The official SDK against the app in-process, with its retries off (each test sees one answer)."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=token, http_client=http, max_retries=0)


@pytest.fixture
async def alice(app) -> AsyncIterator[Person]:  # type: ignore[no-untyped-def]
    who = await person(app, "alice")
    yield who
    await who.client.aclose()


@pytest.fixture
async def bob(app) -> AsyncIterator[Person]:  # type: ignore[no-untyped-def]
    who = await person(app, "bob")
    yield who
    await who.client.aclose()
