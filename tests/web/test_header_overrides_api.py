"""Custom headers RoleCall would replace on the wire are refused at save (issue 10, item 13)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from rolecall.crypto import Binding, e2e
from tests.factories import e2e_record
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers


@pytest.fixture
async def owner(alice: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    account_id = (await alice.get("/api/me")).json()["id"]
    record, udk = e2e_record(account_id)
    answer = await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    assert answer.status_code == 201
    return alice, account_id, udk


async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    return await client.post(path, json=body, headers=await csrf_headers(client))


@pytest.mark.parametrize(("provider_id", "header"), [
    ("openai", "Content-Type: text/plain"), ("openai", "Accept: text/html"),
    ("anthropic", "anthropic-version: 2099-01-01"), ("openrouter", "X-Title: My app"),
])
async def test_overridden_headers_are_refused_at_save(owner, provider_id: str, header: str) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    body = {"provider_id": provider_id, "label": "x", "privacy_mode": "srv", "api_key": VALID_KEY, "headers": header}
    saved = await post(client, "/api/provider-configs", body)
    assert saved.status_code == 400, saved.text
    assert saved.json()["field"] == "headers" and header.split(":")[0] in saved.json()["error"]
    assert "replaced" in saved.json()["error"]
    assert (await client.get("/api/provider-configs")).json() == []


async def test_end_to_end_header_names_are_checked_too(owner) -> None:  # type: ignore[no-untyped-def]
    client, account_id, udk = owner
    config_id = str(uuid.uuid4())
    envelope = e2e.seal_bundle(udk, {"api_key": VALID_KEY, "headers": {"X-Title": "Mine"}}, 1,
                               Binding(account_id, config_id, "openrouter", "https://openrouter.ai"))
    saved = await post(client, "/api/provider-configs", {
        "provider_id": "openrouter", "id": config_id, "label": "e2e", "privacy_mode": "e2e", "credential": envelope,
        "header_names": ["X-Title"]})
    assert saved.status_code == 400 and saved.json()["field"] == "headers"


async def test_other_custom_headers_still_save(owner) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    body = {"provider_id": "anthropic", "label": "beta", "privacy_mode": "srv", "api_key": VALID_KEY,
            "headers": "anthropic-beta: prompt-caching-2024-07-31"}
    assert (await post(client, "/api/provider-configs", body)).status_code == 201
