"""Every JSON error has the same shape, whatever raised it."""

from __future__ import annotations

import httpx

from tests.helpers import csrf_headers

KEYS = {"ok", "status", "code", "error", "field", "errors"}


async def test_error_shape_everywhere(alice: httpx.AsyncClient) -> None:
    headers = await csrf_headers(alice)
    cases = [
        (await alice.get("/api/scenes/nope"), 404, "not_found"),
        (await alice.post("/api/scenes", json={"title": "", "character_ids": ["x"]}, headers=headers), 400, "invalid"),
        (await alice.post("/api/scenes", json={"nope": 1}, headers=headers), 422, "invalid"),
        (await alice.post("/api/scenes", json={}), 403, "csrf"),
        (await alice.get("/api/no-such-endpoint"), 404, "http_error"),
    ]
    for response, status, code in cases:
        body = response.json()
        assert set(body) == KEYS, body
        assert body["ok"] is False and body["status"] == status == response.status_code and body["code"] == code
        assert isinstance(body["error"], str) and body["error"]
        assert body["errors"] and all({"field", "message"} <= set(e) for e in body["errors"])


async def test_validation_error_names_the_field(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/scenes", json={"description": "no cast"}, headers=await csrf_headers(alice))
    assert response.status_code == 422
    assert response.json()["field"] == "character_ids"
