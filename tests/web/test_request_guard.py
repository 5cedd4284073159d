"""Limits at the edge: body size, header count, NUL characters and JSON depth, in the one error shape."""

from __future__ import annotations

import json

import httpx
import pytest

from rolecall.config import NetworkSettings
from rolecall.web.request_guard import MAX_JSON_DEPTH
from tests.factories import e2e_record
from tests.fakes.fixtures import _openai_server, _vertex_server, fake_openai, fake_vertex  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, make_client

NESTED = "{\"a\":" + "[" * 4000 + "]" * 4000 + "}"  # fits every text field, still far too deep


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))


@pytest.fixture
async def owner(alice: httpx.AsyncClient) -> httpx.AsyncClient:
    account_id = (await alice.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    assert (await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))).status_code == 201
    return alice


def assert_error_shape(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["status"] == status and body["error"] and isinstance(body["errors"], list)
    return body


async def test_a_60_mb_body_to_anonymous_log_in_is_refused_unread(client: httpx.AsyncClient) -> None:
    headers = await csrf_headers(client)
    sent = 0

    async def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        for _ in range(60):
            sent += 1
            yield b" " * (1024 * 1024)

    response = await client.post("/api/auth/login", content=body(), headers={**headers, "content-type": "application/json"})
    body_json = assert_error_shape(response, 413)
    assert body_json["code"] == "too_large" and "256 KiB" in body_json["error"]
    assert sent < 5  # stopped reading long before 60 MB
    declared = await client.post("/api/auth/login", content=b"{}", headers={**headers, "content-length": str(60 * 1024 * 1024)})
    assert_error_shape(declared, 413)


async def test_a_vertex_service_account_json_fits(owner: httpx.AsyncClient, fake_vertex) -> None:  # type: ignore[no-untyped-def]
    key = json.dumps(fake_vertex.service_account(), indent=2)
    assert len(key) > 2000
    response = await owner.post("/api/provider-configs", json={
        "provider_id": "vertex", "label": "Vertex", "privacy_mode": "srv", "api_key": key,
        "values": {"project_id": "demo-project", "region": "us-central1"}}, headers=await csrf_headers(owner))
    assert response.status_code == 201, response.text


async def test_too_many_headers_are_refused(client: httpx.AsyncClient) -> None:
    headers = [(f"x-h{n}", "1") for n in range(150)]
    response = await client.get("/api/me", headers=headers)
    assert_error_shape(response, 431)


@pytest.mark.parametrize("field", ["body", "headers"])
async def test_deeply_nested_json_in_a_text_field_is_a_clear_400(owner: httpx.AsyncClient, fake_openai, field: str) -> None:  # type: ignore[no-untyped-def]
    body = {"provider_id": "openai", "base_url": fake_openai.base_url, "api_key": VALID_KEY, field: NESTED}
    headers = await csrf_headers(owner)
    for path in ("/api/provider-configs/test", "/api/provider-configs"):
        response = await owner.post(path, json={**body, "label": "deep", "privacy_mode": "srv"}, headers=headers)
        answer = assert_error_shape(response, 400)
        assert answer["field"] == field and "nested more than" in answer["error"]
    saved = await owner.post("/api/provider-configs", json={"provider_id": "openai", "base_url": fake_openai.base_url,
                                                            "api_key": VALID_KEY, "label": "ok", "privacy_mode": "srv"},
                             headers=headers)
    patched = await owner.patch(f"/api/provider-configs/{saved.json()['id']}", json={field: NESTED}, headers=headers)
    assert_error_shape(patched, 400)


async def test_deeply_nested_body_param_line_and_service_account_are_400(owner: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    headers = await csrf_headers(owner)
    line = await owner.post("/api/provider-configs/test", json={
        "provider_id": "openai", "base_url": fake_openai.base_url, "api_key": VALID_KEY,
        "body": "top_k: " + "[" * 8000 + "]" * 8000}, headers=headers)
    assert assert_error_shape(line, 400)["field"] == "body"
    vertex = await owner.post("/api/provider-configs/test", json={
        "provider_id": "vertex", "api_key": NESTED, "values": {"project_id": "demo-project", "region": "us-central1"}}, headers=headers)
    assert assert_error_shape(vertex, 400)["field"] == "api_key"


async def test_a_deeply_nested_request_body_is_400(owner: httpx.AsyncClient) -> None:
    raw = '{"provider_id":"openai","values":' + "[" * 5000 + "]" * 5000 + "}"
    response = await owner.post("/api/provider-configs/test", content=raw,
                                headers={**await csrf_headers(owner), "content-type": "application/json"})
    assert "nested more than" in assert_error_shape(response, 400)["error"]


@pytest.mark.parametrize(("raw", "refused"), [
    ('{"values":' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}", False),  # at the bound
    ('{"values":' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}", True),
    ('{"values":[' + ",".join(["[]"] * MAX_JSON_DEPTH) + "]}", False),  # many brackets, three deep
    ('{"values":"' + "[{" * MAX_JSON_DEPTH + '"}', False),  # brackets inside a string
])
async def test_the_depth_bound_counts_nesting_not_brackets(owner: httpx.AsyncClient, raw: str, refused: bool) -> None:
    response = await owner.post("/api/provider-configs/test", content=raw,
                                headers={**await csrf_headers(owner), "content-type": "application/json"})
    assert (response.status_code == 400 and "nested more than" in response.text) is refused, response.text


NUL_BODIES = [
    ("/api/auth/login", {"name": "ali\u0000ce", "password": "whatever-long"}),
    ("/api/auth/signup", {"name": "bob", "password": "pass\u0000word-long"}),
    ("/api/provider-configs", {"provider_id": "openai", "label": "a\u0000b", "privacy_mode": "srv", "api_key": VALID_KEY}),
    ("/api/provider-configs/test", {"provider_id": "openai", "api_key": VALID_KEY, "values": {"x": "\u0000"}}),
    ("/api/catalog/stars", {"section": "premiere", "model_id": "gpt\u0000"}),
]


@pytest.mark.parametrize(("path", "body"), NUL_BODIES, ids=[p for p, _ in NUL_BODIES])
async def test_nul_in_any_text_field_is_a_clear_400(owner: httpx.AsyncClient, path: str, body: dict) -> None:
    response = await owner.post(path, json=body, headers=await csrf_headers(owner))
    assert "NUL character" in assert_error_shape(response, 400)["error"]


async def test_an_escaped_backslash_before_u0000_is_not_a_nul(owner: httpx.AsyncClient) -> None:
    # The text is a backslash followed by "u0000": harmless, and stored as typed.
    cast = (await owner.post("/api/characters", json={"name": "Mira"}, headers=await csrf_headers(owner))).json()
    response = await owner.post("/api/scenes", json={"title": "a\\u0000b", "character_ids": [cast["id"]]},
                                headers=await csrf_headers(owner))
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "a\\u0000b"


async def test_nul_in_path_query_and_form_is_a_clear_400(owner: httpx.AsyncClient) -> None:
    headers = await csrf_headers(owner)
    assert "NUL" in assert_error_shape(await owner.delete("/api/provider-configs/a%00b", headers=headers), 400)["error"]
    assert_error_shape(await owner.get("/api/scenes/x%00"), 400)
    assert_error_shape(await owner.get("/api/catalog", params={"q": "a\u0000"}), 400)
    anonymous = make_client(owner._transport.app)  # type: ignore[attr-defined]
    async with anonymous:
        form = await anonymous.post("/login", data={"name": "a\u0000b", "password": "x" * 10,
                                                    "csrf_token": (await csrf_headers(anonymous))["X-CSRF-Token"]})
        assert form.status_code == 400 and "NUL character" in form.text


async def test_raw_json_nul_escape_is_refused_however_spelled(owner: httpx.AsyncClient) -> None:
    raw = json.dumps({"title": "x\u0000"})  # json.dumps writes \u0000
    assert "\\u0000" in raw
    response = await owner.post("/api/scenes", content=raw.encode(),
                                headers={**await csrf_headers(owner), "content-type": "application/json"})
    assert_error_shape(response, 400)
