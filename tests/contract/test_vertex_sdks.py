"""Vertex: `anthropic.AsyncAnthropicVertex` (rawPredict) and google-genai in Vertex mode,
against FakeVertex, and google-auth's own service-account flow against its token endpoint."""

from __future__ import annotations

import anthropic
import google.oauth2.credentials
import google.oauth2.service_account
import pytest
from google import genai
from google.auth.transport.requests import Request as AuthRequest
from google.genai import types

from tests.fakes.vertex import PROJECT, FakeVertex

MESSAGES = [{"role": "user", "content": "Sing!"}]


@pytest.fixture
def token(fake_vertex: FakeVertex) -> str:
    fake_vertex.tokens.add("ya29.contract-token")
    return "ya29.contract-token"


async def test_anthropic_vertex_messages(fake_vertex: FakeVertex, token: str) -> None:
    async with anthropic.AsyncAnthropicVertex(region="us-east5", project_id=PROJECT, access_token=token,
                                              base_url=fake_vertex.base_url, max_retries=0) as sdk:
        message = await sdk.messages.create(model="claude-sonnet-4-5@20250929", max_tokens=32, messages=MESSAGES)  # type: ignore[arg-type]
        assert message.content[0].text == fake_vertex.reply.text  # type: ignore[union-attr]
        assert fake_vertex.last.path.endswith("/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")
        async with sdk.messages.stream(model="claude-sonnet-4-5@20250929", max_tokens=32, messages=MESSAGES) as stream:  # type: ignore[arg-type]
            text = "".join([t async for t in stream.text_stream])
        assert text == fake_vertex.reply.text and fake_vertex.last.path.endswith(":streamRawPredict")


async def test_anthropic_vertex_bad_token(fake_vertex: FakeVertex) -> None:
    async with anthropic.AsyncAnthropicVertex(region="us-east5", project_id=PROJECT, access_token="ya29.nope",
                                              base_url=fake_vertex.base_url, max_retries=0) as sdk:
        with pytest.raises(anthropic.AuthenticationError):
            await sdk.messages.create(model="claude-sonnet-4-5@20250929", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]


async def test_genai_vertex_generate(fake_vertex: FakeVertex, token: str) -> None:
    client = genai.Client(vertexai=True, project=PROJECT, location="us-east5",
                          credentials=google.oauth2.credentials.Credentials(token=token),
                          http_options=types.HttpOptions(base_url=fake_vertex.url, api_version="v1"))
    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Sing!")
    assert response.text == fake_vertex.reply.text
    assert fake_vertex.last.path == f"/v1/projects/{PROJECT}/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"
    chunks = [c async for c in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="Sing!")]
    assert "".join(c.text or "" for c in chunks) == fake_vertex.reply.text


def test_google_auth_service_account_flow_gets_a_token(fake_vertex: FakeVertex) -> None:
    """google-auth's own JWT grant (pointed at the fake on purpose) is accepted by the fake."""
    info = fake_vertex.service_account(token_uri=fake_vertex.token_url)
    credentials = google.oauth2.service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(AuthRequest())
    assert credentials.token in fake_vertex.tokens
