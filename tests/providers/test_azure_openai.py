"""The azure_openai adapter against FakeAzureOpenAI over real sockets."""

from __future__ import annotations

import httpx
import pytest

from rolecall.providers import ProviderError, connect, protocol_for
from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.providers.helpers import BAD_KEY, HELLO, KEY, assert_key_only_in, collect, text_of

adapter = protocol_for("azure_openai")


def conn_for(fake: FakeAzureOpenAI, key: str = KEY, deployment: str = "gpt-4o-prod", **values: str):  # type: ignore[no-untyped-def]
    fields = {"resource_name": "my-res", "deployment_id": deployment, **values}
    return connect("azure_openai", api_key=key, base_url=fake.url + "/openai", values=fields)


async def test_test_key_proves_key_version_and_deployment(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_azure), http_client)
    assert check.status == "valid"
    assert [(m.id, m.name) for m in check.models] == [("gpt-4o-prod", "gpt-4o-2024-11-20")]
    listing, probe = fake_azure.requests
    assert (listing.path, listing.query) == ("/openai/models", {"api-version": "2024-10-21"})
    assert probe.path == "/openai/deployments/gpt-4o-prod/chat/completions" and probe.query == {"api-version": "2024-10-21"}
    assert probe.json()["max_completion_tokens"] == 1
    for request in (listing, probe):
        assert_key_only_in(request, "api-key")


async def test_bad_key(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_azure, key=BAD_KEY), http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "auth"
    assert len(fake_azure.requests) == 1


async def test_unknown_deployment_is_invalid(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_azure, deployment="nope"), http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "not_found"
    assert "deployment" in check.error.message


async def test_unsupported_api_version(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_azure, api_version="2001-01-01"), http_client)
    assert check.status == "unchecked" and check.error is not None
    assert (check.error.kind, check.error.message) == ("bad_request", "API version not supported")


@pytest.mark.parametrize(("status", "kind", "verdict"), [(429, "rate_limited", "unchecked"), (503, "unavailable", "unchecked"), (403, "forbidden", "invalid")])
async def test_error_statuses(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient, status: int, kind: str, verdict: str) -> None:
    fake_azure.fail_next(status, None, {"retry-after": "9"})
    check = await adapter.test_key(conn_for(fake_azure), http_client)
    assert check.status == verdict and check.error is not None and check.error.kind == kind


async def test_chat_goes_to_the_deployment(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient) -> None:
    result = await adapter.chat(conn_for(fake_azure), HELLO, http_client)
    assert result.text == fake_azure.reply.text and result.model == "gpt-4o-2024-11-20"
    assert fake_azure.last.json()["max_completion_tokens"] == 64


async def test_stream_skips_the_prompt_filter_chunk(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient) -> None:
    events = await collect(adapter.stream_chat(conn_for(fake_azure), HELLO, http_client))
    assert text_of(events) == fake_azure.reply.text and events[-1].finish_reason == "stop"
    assert [e.kind for e in events][-2:] == ["usage", "finish"]


async def test_reset_mid_stream(fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_azure.plan.break_after = 3
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_azure), HELLO, http_client))
    assert caught.value.kind == "unavailable"


async def test_deployment_names_cannot_escape_the_path(fake_azure: FakeAzureOpenAI) -> None:
    from rolecall.providers import OptionsError

    with pytest.raises(OptionsError):
        conn_for(fake_azure, deployment="../models")
