"""The vertex adapter against FakeVertex (token endpoint + publisher models) over real sockets."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rolecall.providers import OptionsError, ProviderError, connect
from rolecall.providers.protocols import PROTOCOLS
from rolecall.providers.protocols.vertex import GOOGLE_TOKEN_URL, Vertex
from tests.fakes.vertex import EMAIL, FakeVertex
from tests.providers.helpers import HELLO, collect, text_of

CLAUDE = dataclasses.replace(HELLO, model="claude-sonnet-4-5@20250929")
GEMINI = dataclasses.replace(HELLO, model="gemini-2.5-flash")


@pytest.fixture
def adapter(fake_vertex: FakeVertex) -> Vertex:
    return Vertex(token_url=fake_vertex.token_url)


def conn_for(fake: FakeVertex, info: dict | None = None, region: str = "us-east5", **values: str):  # type: ignore[no-untyped-def,type-arg]
    return connect("vertex", api_key=json.dumps(info or fake.service_account()), base_url=fake.base_url,
                   values={"region": region, **values})


def test_production_adapter_uses_googles_token_endpoint() -> None:
    assert GOOGLE_TOKEN_URL == "https://oauth2.googleapis.com/token"
    assert PROTOCOLS["vertex"].token_url == GOOGLE_TOKEN_URL  # type: ignore[attr-defined]


@pytest.mark.parametrize(("region", "base"), [
    ("us-central1", "https://us-central1-aiplatform.googleapis.com/v1"),
    ("global", "https://aiplatform.googleapis.com/v1"),
    ("us", "https://aiplatform.us.rep.googleapis.com/v1"),
    ("eu", "https://aiplatform.eu.rep.googleapis.com/v1"),
])
def test_region_picks_the_host(fake_vertex: FakeVertex, region: str, base: str) -> None:
    conn = connect("vertex", api_key=json.dumps(fake_vertex.service_account()), values={"region": region})
    assert conn.base_url == base


async def test_key_check_is_the_token_exchange(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_vertex), http_client)
    assert check.status == "valid"
    assert "claude-sonnet-4-5@20250929" in [m.id for m in check.models] and check.models[0].source == "static"
    (claims,) = fake_vertex.assertions
    assert claims["iss"] == EMAIL and claims["aud"] == GOOGLE_TOKEN_URL
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform" and claims["exp"] - claims["iat"] == 3600
    assert [r.path for r in fake_vertex.requests] == ["/token"]  # never the JSON's token_uri


async def test_a_revoked_key_is_invalid(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    check = await adapter.test_key(conn_for(fake_vertex, fake_vertex.service_account(private_key=other)), http_client)
    assert check.status == "invalid" and check.error is not None
    assert (check.error.kind, check.error.message) == ("auth", "invalid_grant: Invalid JWT Signature.")
    assert "PRIVATE KEY" not in repr(check)


async def test_token_endpoint_down_is_couldnt_check(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    fake_vertex.fail_next(503, path="/token")
    check = await adapter.test_key(conn_for(fake_vertex), http_client)
    assert check.status == "unchecked" and check.error is not None and check.error.kind == "unavailable"


async def test_tokens_are_cached(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    conn = conn_for(fake_vertex)
    await adapter.chat(conn, CLAUDE, http_client)
    await adapter.chat(conn, GEMINI, http_client)
    assert [r.path for r in fake_vertex.requests].count("/token") == 1


async def test_claude_via_raw_predict(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    fake_vertex.reply.reasoning = "hmm"
    result = await adapter.chat(conn_for(fake_vertex), CLAUDE, http_client)
    assert (result.text, result.reasoning, result.finish_reason) == (fake_vertex.reply.text, "hmm", "stop")
    sent = fake_vertex.last
    assert sent.raw_path == "/v1/projects/rolecall-test/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    body = sent.json()
    assert "model" not in body and body["anthropic_version"] == "vertex-2023-10-16" and body["system"] == "You are a bard."
    assert sent.headers["authorization"].startswith("Bearer ya29.fake-")
    assert "PRIVATE KEY" not in sent.body.decode() and "private_key" not in json.dumps(sent.headers)


async def test_claude_stream(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    events = await collect(adapter.stream_chat(conn_for(fake_vertex), CLAUDE, http_client))
    assert text_of(events) == fake_vertex.reply.text and [e.kind for e in events][-2:] == ["usage", "finish"]
    assert fake_vertex.last.path.endswith(":streamRawPredict") and fake_vertex.last.json()["stream"] is True


async def test_gemini_chat_and_stream(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    result = await adapter.chat(conn_for(fake_vertex), GEMINI, http_client)
    assert result.text == fake_vertex.reply.text
    assert fake_vertex.last.path == "/v1/projects/rolecall-test/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"
    events = await collect(adapter.stream_chat(conn_for(fake_vertex), GEMINI, http_client))
    assert text_of(events) == fake_vertex.reply.text and events[-1].finish_reason == "stop"
    assert fake_vertex.last.query == {"alt": "sse"}


async def test_model_not_enabled(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await adapter.chat(conn_for(fake_vertex), dataclasses.replace(CLAUDE, model="claude-opus-4-1@20250805"), http_client)
    assert caught.value.kind == "not_found"


async def test_project_id_field_overrides_the_json(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await adapter.chat(conn_for(fake_vertex, project_id="another-project"), CLAUDE, http_client)
    assert caught.value.kind == "forbidden" and "/projects/another-project/" in fake_vertex.last.path


async def test_reset_mid_stream(fake_vertex: FakeVertex, adapter: Vertex, http_client: httpx.AsyncClient) -> None:
    fake_vertex.plan.break_after = 5
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_vertex), CLAUDE, http_client))
    assert caught.value.kind == "unavailable"


@pytest.mark.parametrize(("text", "needle"), [
    ("not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"type": "authorized_user"}', "service_account"),
    ('{"type": "service_account", "client_email": "a@b"}', "missing private_key"),
    ('{"type": "service_account", "client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\\nxx\\n-----END PRIVATE KEY-----"}', "PEM RSA"),
])
def test_malformed_service_account_json(text: str, needle: str) -> None:
    with pytest.raises(OptionsError) as caught:
        connect("vertex", api_key=text, values={"region": "us-central1"})
    assert needle in str(caught.value) and "BEGIN" not in str(caught.value)


def test_connection_repr_hides_the_service_account(fake_vertex: FakeVertex) -> None:
    conn = conn_for(fake_vertex)
    assert "PRIVATE" not in repr(conn) and "private_key" not in repr(conn)
