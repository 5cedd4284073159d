"""Errors sent inside an answer keep their kind, for every adapter that can receive one (issue 10).

A rate limit, an exhausted quota or a content filter reported in a 200 stream must not read as
"the provider is down": each fake sends the provider's own in-band shape over a real socket.
"""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from rolecall.providers import ProviderError, connect, explain, headline, protocol_for
from rolecall.providers.protocols.vertex import Vertex
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.fakes.cohere import FakeCohere
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.vertex import FakeVertex
from tests.providers.helpers import HELLO, KEY, collect

OPENAI_STYLE = [
    ({"type": "requests", "code": "rate_limit_exceeded", "message": "Rate limit reached"}, "rate_limited"),
    ({"code": "429", "message": "Requests to the ChatCompletions_Create Operation have exceeded the rate limit"},
     "rate_limited"),
    ({"type": "insufficient_quota", "code": "insufficient_quota", "message": "You exceeded your current quota"},
     "billing"),
    ({"code": "content_filter", "message": "The response was filtered due to the prompt triggering a content filter"},
     "refused"),
    ({"type": "invalid_request_error", "code": "context_length_exceeded", "message": "too long"}, "context_too_long"),
    ({"code": 502, "message": "upstream died"}, "unavailable"),
]


async def _failure(adapter_name: str, conn, http: httpx.AsyncClient, request=HELLO) -> ProviderError:  # type: ignore[no-untyped-def]
    with pytest.raises(ProviderError) as caught:
        await collect(protocol_for(adapter_name).stream_chat(conn, request, http))
    return caught.value


@pytest.mark.parametrize(("error", "kind"), OPENAI_STYLE)
async def test_openai_stream_errors_keep_their_kind(
    fake_openai: FakeOpenAI, http_client: httpx.AsyncClient, error: dict, kind: str
) -> None:
    fake_openai.stream_error = error
    conn = connect("openrouter", api_key=KEY, base_url=fake_openai.base_url)
    failure = await _failure("openai_compat", conn, http_client, dataclasses.replace(HELLO, model="gpt-4o-mini"))
    assert failure.kind == kind


@pytest.mark.parametrize(("error", "kind"), OPENAI_STYLE[:4])
async def test_azure_stream_errors_keep_their_kind(
    fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient, error: dict, kind: str
) -> None:
    fake_azure.stream_error = error
    conn = connect("azure_openai", api_key=KEY, base_url=fake_azure.url + "/openai",
                   values={"resource_name": "my-res", "deployment_id": "gpt-4o-prod"})
    assert (await _failure("azure_openai", conn, http_client)).kind == kind


async def test_a_filtered_answer_is_explained_as_a_refusal(
    fake_openai: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    fake_openai.stream_error = {"code": "content_filter", "message": "filtered"}
    conn = connect("openrouter", api_key=KEY, base_url=fake_openai.base_url)
    failure = await _failure("openai_compat", conn, http_client, dataclasses.replace(HELLO, model="gpt-4o-mini"))
    assert headline(failure) == "Refused by the provider's content filter"
    assert "content filter refused" in explain(failure) and "isn't a key problem" in explain(failure)
    assert not failure.invalidates


@pytest.mark.parametrize(
    ("error", "kind"),
    [({"type": "rate_limit_error", "message": "slow down"}, "rate_limited"),
     ({"type": "billing_error", "message": "Your credit balance is too low"}, "billing"),
     ({"type": "overloaded_error", "message": "Overloaded"}, "unavailable")],
)
async def test_anthropic_error_events_keep_their_kind(
    fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient, error: dict, kind: str
) -> None:
    fake_anthropic.stream_error = error
    conn = connect("anthropic", api_key=KEY, base_url=fake_anthropic.base_url)
    request = dataclasses.replace(HELLO, model="claude-sonnet-4-5-20250929")
    assert (await _failure("anthropic", conn, http_client, request)).kind == kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [({"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}, "rate_limited"),
     ({"message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}, "rate_limited"),
     ({"code": 503, "message": "The model is overloaded", "status": "UNAVAILABLE"}, "unavailable")],
)
async def test_gemini_stream_errors_keep_their_kind(
    fake_gemini: FakeGemini, http_client: httpx.AsyncClient, error: dict, kind: str
) -> None:
    fake_gemini.stream_error = error
    conn = connect("gemini", api_key=KEY, base_url=fake_gemini.base_url)
    request = dataclasses.replace(HELLO, model="gemini-2.5-flash")
    assert (await _failure("gemini", conn, http_client, request)).kind == kind


@pytest.mark.parametrize(
    ("message", "kind"),
    [("You are using a Trial key, which is limited to 10 API calls / minute. rate limit exceeded", "rate_limited"),
     ("blocked output: please adjust your prompt (safety)", "refused"),
     ("too many tokens: the total number of tokens exceeds the context length", "context_too_long"),
     ("internal error", "unavailable")],
)
async def test_cohere_message_end_error_maps_by_its_message(
    fake_cohere: FakeCohere, http_client: httpx.AsyncClient, message: str, kind: str
) -> None:
    fake_cohere.stream_error = message
    conn = connect("cohere", api_key=KEY, base_url=fake_cohere.base_url)
    request = dataclasses.replace(HELLO, model="command-a-03-2025")
    assert (await _failure("cohere", conn, http_client, request)).kind == kind


@pytest.mark.parametrize(
    ("model", "error", "kind"),
    [("claude-sonnet-4-5@20250929", {"type": "rate_limit_error", "message": "slow down"}, "rate_limited"),
     ("claude-sonnet-4-5@20250929", {"type": "overloaded_error", "message": "Overloaded"}, "unavailable"),
     ("gemini-2.5-flash", {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}, "rate_limited"),
     ("gemini-2.5-flash", {"message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}, "rate_limited")],
)
async def test_vertex_stream_errors_keep_their_kind(
    fake_vertex: FakeVertex, http_client: httpx.AsyncClient, model: str, error: dict, kind: str
) -> None:
    fake_vertex.stream_error = error
    conn = connect("vertex", api_key=json.dumps(fake_vertex.service_account()), base_url=fake_vertex.base_url,
                   values={"region": "us-east5"})
    adapter = Vertex(token_url=fake_vertex.token_url)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn, dataclasses.replace(HELLO, model=model), http_client))
    assert caught.value.kind == kind
