"""The anthropic adapter against FakeAnthropic over real sockets."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from rolecall.providers import ProviderError, connect, protocol_for
from tests.fakes.anthropic import FakeAnthropic
from tests.providers.helpers import BAD_KEY, HELLO, KEY, assert_key_only_in, collect, collect_until_error, free_port, text_of

adapter = protocol_for("anthropic")
SONNET = dataclasses.replace(HELLO, model="claude-sonnet-4-5-20250929")


def conn_for(fake: FakeAnthropic, key: str = KEY, **kwargs: object):  # type: ignore[no-untyped-def]
    return connect("anthropic", api_key=key, base_url=fake.base_url, **kwargs)  # type: ignore[arg-type]


async def test_list_models_pages_and_reads_capabilities(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.models = fake_anthropic.models * 1  # three models
    models = await adapter.list_models(conn_for(fake_anthropic), http_client)
    sonnet = models[0]
    assert (sonnet.id, sonnet.name, sonnet.context_window, sonnet.max_output) == (
        "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 200000, 64000)
    assert sonnet.capabilities == {"vision", "json", "reasoning", "web_search"}
    assert models[2].capabilities == {"vision", "web_search"}
    sent = fake_anthropic.last
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert_key_only_in(sent, "x-api-key")


async def test_paging_follows_last_id(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    base = fake_anthropic.models[0]
    fake_anthropic.models = [dict(base, id=f"claude-{i}") for i in range(2500)]
    models = await adapter.list_models(conn_for(fake_anthropic), http_client)
    assert len(models) == 2500 and models[-1].id == "claude-2499"
    assert [r.query.get("after_id") for r in fake_anthropic.requests] == [None, "claude-999", "claude-1999"]


async def test_valid_and_invalid_keys(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    good = await adapter.test_key(conn_for(fake_anthropic), http_client)
    assert good.status == "valid" and len(good.models) == 3
    bad = await adapter.test_key(conn_for(fake_anthropic, key=BAD_KEY), http_client)
    assert bad.status == "invalid" and bad.error is not None
    assert (bad.error.kind, bad.error.message) == ("auth", "invalid x-api-key")


async def test_disabled_key_404_on_models_is_auth(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    # Through a proxy (custom base URL) a 404 stays "wrong path"; on the registry URL it means a dead key.
    fake_anthropic.fail_next(404, path="/models")
    proxied = await adapter.test_key(conn_for(fake_anthropic), http_client)
    assert proxied.error is not None and proxied.error.kind == "not_found"
    direct = dataclasses.replace(conn_for(fake_anthropic), custom_base=False)
    fake_anthropic.fail_next(404, path="/models")
    result = await adapter.test_key(direct, http_client)
    assert result.status == "invalid" and result.error is not None and result.error.kind == "auth"


@pytest.mark.parametrize(("status", "kind", "verdict"), [
    (429, "rate_limited", "unchecked"), (529, "unavailable", "unchecked"), (500, "unavailable", "unchecked"),
    (403, "forbidden", "invalid"),
])
async def test_error_statuses(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient, status: int, kind: str, verdict: str) -> None:
    fake_anthropic.fail_next(status, None, {"retry-after": "4"} if status == 429 else {})
    check = await adapter.test_key(conn_for(fake_anthropic), http_client)
    assert check.status == verdict and check.error is not None and check.error.kind == kind
    if status == 429:
        assert check.error.retry_after == 4.0


async def test_billing_error_is_billing(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.fail_next(400, {"type": "error", "error": {"type": "invalid_request_error",
                                   "message": "Your credit balance is too low to access the Anthropic API."}})
    with pytest.raises(ProviderError) as caught:
        await adapter.chat(conn_for(fake_anthropic), SONNET, http_client)
    assert caught.value.kind == "billing"


async def test_connection_refused(http_client: httpx.AsyncClient) -> None:
    conn = connect("anthropic", api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    check = await adapter.test_key(conn, http_client)
    assert check.status == "unchecked" and check.error is not None and check.error.kind == "unavailable"


async def test_chat_body_and_result(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.reply.reasoning = "Considering meter."
    conn = conn_for(fake_anthropic, body={"top_k": 40}, headers={"x-proxy-secret": "proxy-123456"})
    request = dataclasses.replace(SONNET, temperature=0.7, stop=("END",), params={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    result = await adapter.chat(conn, request, http_client)
    assert (result.text, result.reasoning, result.finish_reason) == (fake_anthropic.reply.text, "Considering meter.", "stop")
    assert result.usage is not None and (result.usage.input_tokens, result.usage.output_tokens) == (12, 9)
    assert fake_anthropic.last.json() == {
        "model": "claude-sonnet-4-5-20250929", "system": "You are a bard.",
        "messages": [{"role": "user", "content": "Sing!"}], "max_tokens": 64, "temperature": 0.7,
        "stop_sequences": ["END"], "top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    assert fake_anthropic.last.headers["x-proxy-secret"] == "proxy-123456"


async def test_max_tokens_defaults_because_anthropic_requires_it(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    await adapter.chat(conn_for(fake_anthropic), dataclasses.replace(SONNET, max_tokens=None), http_client)
    assert fake_anthropic.last.json()["max_tokens"] == 4096


async def test_stream_text_thinking_usage_finish(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.reply.reasoning = "Let me rhyme."
    fake_anthropic.reply.finish = "length"
    events = await collect(adapter.stream_chat(conn_for(fake_anthropic), SONNET, http_client))
    assert text_of(events, "reasoning") == "Let me rhyme." and text_of(events) == fake_anthropic.reply.text
    assert [e.kind for e in events][-2:] == ["usage", "finish"]
    assert events[-2].usage is not None and (events[-2].usage.input_tokens, events[-2].usage.output_tokens) == (12, 9)
    assert events[-1].finish_reason == "length"
    assert fake_anthropic.last.json()["stream"] is True


async def test_mid_stream_error_event(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.stream_error = {"type": "overloaded_error", "message": "Overloaded"}
    seen, error = await collect_until_error(adapter.stream_chat(conn_for(fake_anthropic), SONNET, http_client))
    assert (error.kind, error.message) == ("unavailable", "Overloaded")
    assert text_of(seen) == "Hello"


async def test_reset_mid_stream(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.plan.break_after = 6
    seen, error = await collect_until_error(adapter.stream_chat(conn_for(fake_anthropic), SONNET, http_client))
    assert error.kind == "unavailable" and text_of(seen) == "Hello there, traveller."


async def test_malformed_event(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.plan.malformed_at = 4
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_anthropic), SONNET, http_client))
    assert caught.value.kind == "bad_response"


async def test_stream_without_message_stop(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    frame = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    fake_anthropic.fail_next(200, frame, {"content-type": "text/event-stream"})
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_anthropic), SONNET, http_client))
    assert caught.value.kind == "bad_response"


async def test_stream_529_before_first_byte(fake_anthropic: FakeAnthropic, http_client: httpx.AsyncClient) -> None:
    fake_anthropic.fail_next(529)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_anthropic), SONNET, http_client))
    assert (caught.value.kind, caught.value.status) == ("unavailable", 529)
