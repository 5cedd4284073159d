"""The gemini adapter against FakeGemini over real sockets."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from rolecall.providers import ProviderError, connect, explain, protocol_for
from tests.fakes.gemini import FakeGemini
from tests.providers.helpers import BAD_KEY, HELLO, KEY, assert_key_only_in, collect, collect_until_error, free_port, text_of

adapter = protocol_for("gemini")
FLASH = dataclasses.replace(HELLO, model="gemini-2.5-flash")


def conn_for(fake: FakeGemini, key: str = KEY, **kwargs: object):  # type: ignore[no-untyped-def]
    return connect("gemini", api_key=key, base_url=fake.base_url, **kwargs)  # type: ignore[arg-type]


async def test_list_models_pages_filters_and_reads_metadata(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    models = await adapter.list_models(conn_for(fake_gemini), http_client)
    assert [m.id for m in models] == ["gemini-2.5-flash", "gemini-2.0-flash"]  # no embedding model
    flash = models[0]
    assert (flash.name, flash.context_window, flash.max_output, flash.capabilities) == (
        "Gemini 2.5 Flash", 1048576, 65536, {"reasoning"})
    assert_key_only_in(fake_gemini.last, "x-goog-api-key")
    assert "key" not in fake_gemini.last.query  # never in the URL


async def test_paging(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    base = fake_gemini.models[0]
    fake_gemini.models = [dict(base, name=f"models/g-{i}") for i in range(1500)]
    models = await adapter.list_models(conn_for(fake_gemini), http_client)
    assert len(models) == 1500
    assert [r.query.get("pageToken") for r in fake_gemini.requests] == [None, "1000"]


async def test_bad_key_400_is_invalid(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_gemini, key=BAD_KEY), http_client)
    assert check.status == "invalid" and check.error is not None
    assert (check.error.kind, check.error.status) == ("auth", 400)
    assert explain(check.error).startswith("The key you pasted is wrong")


async def test_valid_key(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_gemini), http_client)
    assert check.status == "valid" and len(check.models) == 2


@pytest.mark.parametrize(("status", "kind", "verdict"), [
    (403, "forbidden", "invalid"), (429, "rate_limited", "unchecked"), (500, "unavailable", "unchecked"),
    (503, "unavailable", "unchecked"),
])
async def test_error_statuses(fake_gemini: FakeGemini, http_client: httpx.AsyncClient, status: int, kind: str, verdict: str) -> None:
    fake_gemini.fail_next(status)
    check = await adapter.test_key(conn_for(fake_gemini), http_client)
    assert check.status == verdict and check.error is not None and check.error.kind == kind
    if status == 429:
        assert check.error.retry_after == 7.0  # from google.rpc.RetryInfo


async def test_connection_refused(http_client: httpx.AsyncClient) -> None:
    conn = connect("gemini", api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1beta")
    check = await adapter.test_key(conn, http_client)
    assert check.status == "unchecked" and check.error is not None and check.error.kind == "unavailable"


async def test_chat_body_and_result(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    fake_gemini.reply.reasoning = "Thinking of verses."
    conn = conn_for(fake_gemini, body={"top_k": 40, "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]})
    request = dataclasses.replace(FLASH, messages=HELLO.messages + (dataclasses.replace(HELLO.messages[1], role="assistant", content="La!"),),
                                  temperature=0.5, stop=("END",))
    result = await adapter.chat(conn, request, http_client)
    assert (result.text, result.reasoning, result.finish_reason) == (fake_gemini.reply.text, "Thinking of verses.", "stop")
    assert result.usage is not None and (result.usage.input_tokens, result.usage.output_tokens) == (12, 9)
    sent = fake_gemini.last
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.json() == {
        "contents": [{"role": "user", "parts": [{"text": "Sing!"}]}, {"role": "model", "parts": [{"text": "La!"}]}],
        "systemInstruction": {"parts": [{"text": "You are a bard."}]},
        "generationConfig": {"maxOutputTokens": 64, "temperature": 0.5, "stopSequences": ["END"], "top_k": 40},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }


async def test_model_ids_cannot_add_path_segments(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    await adapter.chat(conn_for(fake_gemini), dataclasses.replace(FLASH, model="../../evil?x=1#y"), http_client)
    assert fake_gemini.last.raw_path == "/v1beta/models/..%2F..%2Fevil%3Fx%3D1%23y:generateContent"


async def test_blocked_prompt(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    fake_gemini.blocked = True
    result = await adapter.chat(conn_for(fake_gemini), FLASH, http_client)
    assert (result.text, result.finish_reason) == ("", "content_filter")


async def test_stream(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    fake_gemini.reply.reasoning = "Pondering."
    fake_gemini.reply.finish = "length"
    events = await collect(adapter.stream_chat(conn_for(fake_gemini), FLASH, http_client))
    assert text_of(events, "reasoning") == "Pondering." and text_of(events) == fake_gemini.reply.text
    assert [e.kind for e in events][-2:] == ["usage", "finish"] and events[-1].finish_reason == "length"
    assert fake_gemini.last.path.endswith(":streamGenerateContent") and fake_gemini.last.query == {"alt": "sse"}


async def test_reset_mid_stream(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    fake_gemini.plan.break_after = 2
    seen, error = await collect_until_error(adapter.stream_chat(conn_for(fake_gemini), FLASH, http_client))
    assert error.kind == "unavailable" and text_of(seen) == "Hello there,"


async def test_stream_cleanly_cut_without_finish_reason(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    fake_gemini.fail_next(200, b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}\r\n\r\n',
                          {"content-type": "text/event-stream"})
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_gemini), FLASH, http_client))
    assert caught.value.kind == "bad_response"


async def test_malformed_chunk(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    fake_gemini.plan.malformed_at = 1
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_gemini), FLASH, http_client))
    assert caught.value.kind == "bad_response"


async def test_stream_429(fake_gemini: FakeGemini, http_client: httpx.AsyncClient) -> None:
    fake_gemini.fail_next(429)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_gemini), FLASH, http_client))
    assert (caught.value.kind, caught.value.retry_after) == ("rate_limited", 7.0)
