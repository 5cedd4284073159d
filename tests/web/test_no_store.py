"""Answers that carry account data are never cached (issue 10, item 15)."""

from __future__ import annotations

import httpx

from tests.factories import e2e_record
from tests.helpers import csrf_headers


async def test_account_data_is_sent_no_store(alice: httpx.AsyncClient) -> None:
    account_id = (await alice.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    setup = await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    assert setup.status_code == 201
    for path in ("/api/encryption", "/api/provider-configs", "/api/me", "/settings", "/settings?tab=api-keys"):
        response = await alice.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    assert "wrapped_udk" in (await alice.get("/api/encryption")).text  # the record really is in that answer
    assert setup.headers["cache-control"] == "no-store"


async def test_static_assets_stay_cacheable(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/js/app.js")
    assert response.status_code == 200 and "no-store" not in response.headers.get("cache-control", "")
