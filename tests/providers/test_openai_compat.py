"""The openai_compat adapter against FakeOpenAI over real sockets, through the SSRF guard."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from rolecall.net import NetworkPolicy, make_client
from rolecall.providers import ChatMessage, ChatRequest, ProviderError, connect, explain, get, protocol_for
from rolecall.providers.registry import PROVIDERS
from rolecall.providers.types import ModelFields, ModelsEndpoint, Provider
from tests.fakes.fixtures import LOOPBACK_ONLY
from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import sse_frame
from tests.providers.helpers import BAD_KEY, HELLO, KEY, assert_key_only_in, collect, collect_until_error, free_port, text_of

adapter = protocol_for("openai_compat")


def conn_for(fake: FakeOpenAI, provider: str = "openai", key: str | None = KEY, **kwargs: object):  # type: ignore[no-untyped-def]
    return connect(provider, api_key=key, base_url=fake.base_url, **kwargs)  # type: ignore[arg-type]


# --- models ------------------------------------------------------------------------------------

async def test_list_models_reads_openrouter_metadata(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.models_public = True
    models = {m.id: m for m in await adapter.list_models(conn_for(fake_openai, "openrouter"), http_client)}
    llama = models["meta-llama/llama-3.3-70b-instruct"]
    assert llama.name == "Meta: Llama 3.3 70B Instruct"
    assert (llama.context_window, llama.max_output) == (131072, 16384)
    assert llama.capabilities == {"vision", "tools", "json", "reasoning"}
    assert (llama.input_price, llama.output_price, llama.free) == (0.13, 0.4, False)
    assert models["deepseek/deepseek-r1:free"].free is True
    assert models["llama-3.1-8b-instant"].context_window == 131072  # Groq's spelling
    assert models["gpt-4o-mini"].context_window is None  # not invented when absent
    assert all(m.source == "provider" for m in models.values())


async def test_bare_and_detailed_items_map_alike(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    """Items with only an id (the short path) and items with details drop, keep and mark ids the same way."""
    ids = ["GPT-4o", "OpenAI/Whisper-Large", "Text-EMBEDDING-3", "tiny:free", "modèle-TTS", "MODÈLE-chat", "sora-2"]
    fake_openai.models = [{"id": i, "object": "model", "owned_by": "x"} for i in ids]
    bare = await adapter.list_models(conn_for(fake_openai, "openai"), http_client)
    fake_openai.models = [{"id": i, "object": "model", "context_length": 8192} for i in ids]
    detailed = await adapter.list_models(conn_for(fake_openai, "openai"), http_client)
    assert [m.id for m in bare] == [m.id for m in detailed] == ["GPT-4o", "tiny:free", "MODÈLE-chat"]
    assert [m.free for m in bare] == [None, True, None]
    assert [dataclasses.replace(m, context_window=None) for m in detailed] == bare


async def test_a_list_asked_for_again_follows_the_provider(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    """The same list twice maps the same; a list changed since is the new one, not the last one's models."""
    fake_openai.models = [{"id": f"model-{n}", "object": "model"} for n in range(3)]
    first = await adapter.list_models(conn_for(fake_openai), http_client)
    first.clear()  # what a caller does with its list does not reach the next caller
    again = await adapter.list_models(conn_for(fake_openai), http_client)
    assert [m.id for m in again] == ["model-0", "model-1", "model-2"]
    fake_openai.models = [{"id": "model-0", "object": "model"}, {"id": "model-9", "object": "model", "context_length": 4096}]
    changed = await adapter.list_models(conn_for(fake_openai), http_client)
    assert [(m.id, m.context_window) for m in changed] == [("model-0", None), ("model-9", 4096)]


async def test_openai_list_drops_non_chat_models(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    ids = [m.id for m in await adapter.list_models(conn_for(fake_openai), http_client)]
    assert "gpt-4o-mini" in ids and "text-embedding-3-small" not in ids


async def test_bare_array_lists_are_accepted(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.models_public = True
    fake_openai.models_payload = [{"name": "openai", "tools": True, "input_modalities": ["text", "image"]}, {"name": "mistral"}]
    models = await adapter.list_models(conn_for(fake_openai, "pollinations", key=None), http_client)
    assert [(m.id, m.free) for m in models] == [("openai", True), ("mistral", True)]
    assert models[0].capabilities == {"vision", "tools"}


async def test_a_list_that_is_not_a_list_is_a_bad_response(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.models_payload = {"hello": "world"}
    with pytest.raises(ProviderError) as caught:
        await adapter.list_models(conn_for(fake_openai), http_client)
    assert caught.value.kind == "bad_response"


async def test_non_json_list_is_a_bad_response(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(200, b"<html>login page</html>", {"content-type": "text/html"})
    with pytest.raises(ProviderError) as caught:
        await adapter.list_models(conn_for(fake_openai), http_client)
    assert caught.value.kind == "bad_response"


# --- test_key ----------------------------------------------------------------------------------

async def test_valid_key(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_openai), http_client)
    assert check.status == "valid" and check.error is None
    assert "gpt-4o-mini" in [m.id for m in check.models]
    assert_key_only_in(fake_openai.last, "authorization")
    assert fake_openai.last.headers["authorization"] == f"Bearer {KEY}"


async def test_bad_key_is_invalid_and_the_echoed_key_is_redacted(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.echo_key = True
    check = await adapter.test_key(conn_for(fake_openai, key=BAD_KEY), http_client)
    assert check.status == "invalid" and check.error is not None
    assert (check.error.kind, check.error.status) == ("auth", 401)
    assert explain(check.error).startswith("The key you pasted is wrong or has been revoked.")
    for text in (str(check.error), repr(check.error), check.error.message, repr(check)):
        assert BAD_KEY not in text
    assert "[REDACTED]" in check.error.message


async def test_429_keeps_the_status_with_retry_after(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(429, None, {"retry-after": "20"})
    check = await adapter.test_key(conn_for(fake_openai), http_client)
    assert check.status == "unchecked" and check.error is not None
    assert (check.error.kind, check.error.retry_after) == ("rate_limited", 20.0)
    assert "doesn't mean the key is invalid" in explain(check.error)


async def test_429_insufficient_quota_is_billing(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    body = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}
    fake_openai.fail_next(429, body)
    check = await adapter.test_key(conn_for(fake_openai), http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "billing"


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_5xx_is_couldnt_check(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient, status: int) -> None:
    fake_openai.fail_next(status)
    check = await adapter.test_key(conn_for(fake_openai), http_client)
    assert check.status == "unchecked" and check.error is not None and check.error.kind == "unavailable"
    assert explain(check.error) == "The provider is down or unreachable. Not a key problem — wait and try again."


async def test_403_is_invalid_forbidden(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(403, {"error": {"message": "Country, region, or territory not supported"}})
    check = await adapter.test_key(conn_for(fake_openai), http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "forbidden"
    assert check.error.message == "Country, region, or territory not supported"


async def test_connection_refused_is_couldnt_check(http_client: httpx.AsyncClient) -> None:
    conn = connect("openai", api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    check = await adapter.test_key(conn, http_client)
    assert check.status == "unchecked" and check.error is not None and check.error.kind == "unavailable"


async def test_blocked_destination_names_the_policy(fake_openai: FakeOpenAI) -> None:
    async with make_client(NetworkPolicy()) as strict:  # the default policy: no loopback
        check = await adapter.test_key(conn_for(fake_openai), strict)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "blocked"
    assert "loopback" in check.error.message and explain(check.error) == check.error.message
    assert fake_openai.requests == []  # refused before connecting


async def test_openrouter_checks_the_key_endpoint_because_the_list_is_public(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.models_public = True
    good = await adapter.test_key(conn_for(fake_openai, "openrouter"), http_client)
    assert good.status == "valid" and good.models
    assert [r.path for r in fake_openai.requests] == ["/v1/key", "/v1/models"]
    assert fake_openai.requests[0].headers["x-title"] == "RoleCall"
    bad = await adapter.test_key(conn_for(fake_openai, "openrouter", key=BAD_KEY), http_client)
    assert bad.status == "invalid" and bad.error is not None and bad.error.kind == "auth"


async def test_openrouter_key_ok_but_list_down_is_still_valid(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(503, path="/models")
    check = await adapter.test_key(conn_for(fake_openai, "openrouter"), http_client)
    assert check.status == "valid" and check.models == () and check.error is not None


async def test_nanogpt_checks_the_balance_with_x_api_key(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.models_public = True
    check = await adapter.test_key(conn_for(fake_openai, "nanogpt", endpoint_type="subscription"), http_client)
    assert check.status == "valid"
    balance = fake_openai.requests[0]
    assert (balance.method, balance.path) == ("POST", "/v1/check-balance")
    assert_key_only_in(balance, "x-api-key")
    assert fake_openai.requests[1].query == {"detailed": "true"}


async def test_probe_providers_spend_one_token_and_return_the_static_list(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_openai, "perplexity"), http_client)
    assert check.status == "valid"
    assert "sonar-pro" in [m.id for m in check.models] and check.models[0].source == "static"
    probe = fake_openai.last.json()
    assert (probe["model"], probe["max_tokens"], probe["stream"]) == ("sonar", 1, False)
    assert [r.path for r in fake_openai.requests] == ["/v1/chat/completions"]


async def test_probe_with_a_bad_key_is_invalid(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_openai, "zai", key=BAD_KEY), http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "auth"


async def test_probe_model_rejected_still_proves_the_key(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(404, None, path="/chat/completions")
    check = await adapter.test_key(conn_for(fake_openai, "ai21"), http_client)
    assert check.status == "valid" and [m.id for m in check.models] == ["jamba-large", "jamba-mini"]


async def test_keyless_provider_sends_no_authorization(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.keys = {None}  # type: ignore[arg-type]
    result = await adapter.chat(conn_for(fake_openai, "pollinations", key=None), dataclasses.replace(HELLO, model="openai"), http_client)
    assert result.text and "authorization" not in fake_openai.last.headers


# --- chat --------------------------------------------------------------------------------------

async def test_chat_body_headers_and_result(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    conn = conn_for(
        fake_openai, headers={"x-proxy-secret": "proxy-123456"}, body={"min_p": 0.1, "temperature": 0.3},
        values={"organization": "org-abc"},
    )
    request = ChatRequest(messages=HELLO.messages, model="gpt-4o-mini", max_tokens=50, temperature=0.9,
                          top_p=0.8, stop=("\n\n",), params={"seed": 7, "stream": True})
    result = await adapter.chat(conn, request, http_client)
    assert result.text == fake_openai.reply.text
    assert (result.finish_reason, result.model) == ("stop", "gpt-4o-mini")
    assert result.usage is not None and (result.usage.input_tokens, result.usage.output_tokens) == (12, 9)
    sent = fake_openai.last
    assert sent.json() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "You are a bard."}, {"role": "user", "content": "Sing!"}],
        "stream": False, "max_completion_tokens": 50, "temperature": 0.3, "top_p": 0.8, "stop": ["\n\n"],
        "min_p": 0.1, "seed": 7,
    }
    assert sent.headers["x-proxy-secret"] == "proxy-123456"
    assert sent.headers["openai-organization"] == "org-abc"
    assert_key_only_in(sent, "authorization")


async def test_the_body_carries_any_text_exactly_as_compact_utf8(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    # Non-ASCII, quotes, backslashes, control characters; a seed past 64 bits (which orjson refuses:
    # the body is written by json then) and one within them.
    text = 'Elle a dit « non » — “twice”\\ \\u00e9 \n\t\x00\x1f\u2028 🌊 ' + "日本語" * 3
    for seed in (2**70, 2**62):
        request = ChatRequest(messages=(ChatMessage("user", text),), model="gpt-4o-mini", params={"seed": seed})
        await adapter.chat(conn_for(fake_openai), request, http_client)
        sent = fake_openai.last
        assert sent.json()["messages"] == [{"role": "user", "content": text}] and sent.json()["seed"] == seed
        assert sent.body.startswith('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Elle a dit « non »'.encode())
        assert sent.headers["content-type"] == "application/json"


async def test_pinned_model_is_used_when_the_request_has_none(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    await adapter.chat(conn_for(fake_openai, "groq", model="llama-3.1-8b-instant"), HELLO, http_client)
    assert fake_openai.last.json()["model"] == "llama-3.1-8b-instant"
    assert fake_openai.last.json()["max_tokens"] == 64  # Groq uses max_tokens


async def test_no_model_at_all_is_a_bad_request(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderError) as caught:
        await adapter.chat(conn_for(fake_openai), HELLO, http_client)
    assert caught.value.kind == "bad_request" and fake_openai.requests == []


async def test_chat_reasoning_field(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.reply.reasoning = "Let me think."
    result = await adapter.chat(conn_for(fake_openai, "deepseek", model="deepseek-reasoner"), HELLO, http_client)
    assert result.reasoning == "Let me think."


# --- streaming ---------------------------------------------------------------------------------

async def test_stream_text_reasoning_usage_finish(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.reply.reasoning = "Hmm, a song."
    events = await collect(adapter.stream_chat(conn_for(fake_openai, model="gpt-4o-mini"), HELLO, http_client))
    assert text_of(events) == fake_openai.reply.text
    assert text_of(events, "reasoning") == "Hmm, a song."
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["usage", "finish"] and kinds.index("reasoning") < kinds.index("text")
    assert events[-2].usage is not None and events[-2].usage.output_tokens == 9
    assert events[-1].finish_reason == "stop"
    assert fake_openai.last.json()["stream_options"] == {"include_usage": True}
    assert fake_openai.last.headers["accept"] == "text/event-stream"


async def test_stream_reasoning_in_delta_reasoning(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.reply.reasoning = "OpenRouter style."
    fake_openai.reasoning_field = "reasoning"
    fake_openai.comments = True
    events = await collect(adapter.stream_chat(conn_for(fake_openai, "openrouter", model="x/y"), HELLO, http_client))
    assert text_of(events, "reasoning") == "OpenRouter style." and text_of(events) == fake_openai.reply.text


async def test_stream_length_finish_and_no_usage_when_not_asked(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.reply.finish = "length"
    events = await collect(adapter.stream_chat(conn_for(fake_openai, "mistral", model="mistral-small"), HELLO, http_client))
    assert "stream_options" not in fake_openai.last.json()
    assert [e.kind for e in events][-1] == "finish" and events[-1].finish_reason == "length"
    assert "usage" not in [e.kind for e in events]


async def test_stream_mistral_thinking_blocks(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": "pondering"}]}, {"type": "text", "text": "Answer"},
    ]}, "finish_reason": None}]}
    done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    fake_openai.fail_next(200, sse_frame(chunk) + sse_frame(done) + b"data: [DONE]\n\n", {"content-type": "text/event-stream"})
    events = await collect(adapter.stream_chat(conn_for(fake_openai, "mistral", model="magistral"), HELLO, http_client))
    assert text_of(events, "reasoning") == "pondering" and text_of(events) == "Answer"


async def test_mid_stream_error_object(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.stream_error = {"code": 502, "message": f"Provider returned error ({KEY})"}
    seen, error = await collect_until_error(adapter.stream_chat(conn_for(fake_openai, "openrouter", model="x/y"), HELLO, http_client))
    assert (error.kind, error.status) == ("unavailable", 502)
    assert KEY not in error.message
    assert text_of(seen) == "Hello"


def _piece(delta: dict[str, str], finish: str | None = None) -> bytes:
    return sse_frame({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


async def test_pieces_that_arrive_in_one_read_come_as_one_event_per_run(fake_openai: FakeOpenAI,
                                                                        http_client: httpx.AsyncClient) -> None:
    body = b"".join([_piece({"role": "assistant", "content": ""}), _piece({"content": "Hello"}),
                     _piece({"content": " there,"}), _piece({"reasoning": "hmm"}), _piece({"reasoning": "..."}),
                     _piece({"content": " friend"}), _piece({}, "stop"), b"data: [DONE]\n\n"])
    fake_openai.fail_next(200, body, {"content-type": "text/event-stream"})  # one write: one read here
    events = await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert [(e.kind, e.text) for e in events] == [("text", "Hello there,"), ("reasoning", "hmm..."),
                                                  ("text", " friend"), ("finish", "")]
    assert events[-1].finish_reason == "stop"


async def test_a_chunk_is_read_as_json_reads_it_nan_and_long_integers_included(fake_openai: FakeOpenAI,
                                                                                http_client: httpx.AsyncClient) -> None:
    odd = (b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":{"content":[{"logprob":-Infinity,'
           b'"bytes":[NaN]}]},"finish_reason":null}],"created":123456789012345678901234567890}\n\n')
    fake_openai.fail_next(200, odd + _piece({}, "stop") + b"data: [DONE]\n\n", {"content-type": "text/event-stream"})
    events = await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert text_of(events) == "Hi" and events[-1].finish_reason == "stop"


async def test_a_chunk_nested_without_end_is_a_malformed_answer(fake_openai: FakeOpenAI,
                                                                http_client: httpx.AsyncClient) -> None:
    deep = b"data: " + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"\n\n"
    fake_openai.fail_next(200, _piece({"content": "Hi"}) + deep, {"content-type": "text/event-stream"})
    seen, failure = await collect_until_error(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert failure.kind == "bad_response" and text_of(seen) == "Hi"


async def test_text_before_an_error_chunk_of_the_same_read_comes_first(fake_openai: FakeOpenAI,
                                                                       http_client: httpx.AsyncClient) -> None:
    error = sse_frame({"error": {"code": 502, "message": "Provider returned error"}})
    fake_openai.fail_next(200, _piece({"content": "Hello"}) + _piece({"content": " there"}) + error,
                          {"content-type": "text/event-stream"})
    seen, failure = await collect_until_error(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert failure.kind == "unavailable" and [(e.kind, e.text) for e in seen] == [("text", "Hello there")]


async def test_reset_mid_stream(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.plan.break_after = 4
    seen, error = await collect_until_error(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert error.kind == "unavailable"
    assert text_of(seen) == "Hello there, traveller."


async def test_malformed_chunk(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.plan.malformed_at = 3
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert caught.value.kind == "bad_response"


async def test_stream_that_ends_without_done_or_finish(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
    fake_openai.fail_next(200, sse_frame(chunk), {"content-type": "text/event-stream"})
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert caught.value.kind == "bad_response"


async def test_stream_error_status_before_first_byte(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(429, None, {"retry-after-ms": "2500"})
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert (caught.value.kind, caught.value.retry_after) == ("rate_limited", 2.5)


async def test_slow_first_byte_times_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.plan.first_byte_delay = 1.0
    async with make_client(LOOPBACK_ONLY, read_timeout=0.2) as impatient:
        with pytest.raises(ProviderError) as caught:
            await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, impatient))
    assert caught.value.kind == "timeout"


async def test_slow_chunks_within_the_read_timeout_are_fine(fake_openai: FakeOpenAI) -> None:
    fake_openai.plan.chunk_delay = 0.05
    async with make_client(LOOPBACK_ONLY, read_timeout=0.5) as http:
        events = await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http))
    assert text_of(events) == fake_openai.reply.text


async def test_stopping_early_closes_the_stream(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    stream = adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client)
    first = await stream.__anext__()
    await stream.aclose()
    assert first.kind == "text"
    again = await adapter.chat(conn_for(fake_openai), dataclasses.replace(HELLO, model="m"), http_client)
    assert again.text  # the pool is healthy afterwards


# --- Custom endpoint: base URL detection ----------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "/v1", "/api/v1"])
async def test_custom_endpoint_finds_the_models_list(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient, prefix: str) -> None:
    fake_openai.prefix = prefix
    conn = connect("custom_openai", base_url=fake_openai.url + "/", api_key=KEY)
    check = await adapter.test_key(conn, http_client)
    assert check.status == "valid" and check.base_url == fake_openai.url + prefix
    assert check.models


async def test_custom_endpoint_typed_with_v1_is_used_as_is(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    conn = connect("custom_openai", base_url=fake_openai.base_url, api_key=KEY)
    check = await adapter.test_key(conn, http_client)
    assert check.base_url == fake_openai.base_url and len(fake_openai.requests) == 1


async def test_custom_endpoint_nothing_answers(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.prefix = "/somewhere/else"
    check = await adapter.test_key(connect("custom_openai", base_url=fake_openai.url), http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "not_found"
    assert explain(check.error) == (
        "The Base URL you entered likely points at the wrong path. Try appending /v1 or /api/v1 "
        "explicitly if auto-detection failed."
    )
    assert [r.path for r in fake_openai.requests] == ["/models", "/v1/models", "/api/v1/models"]


async def test_custom_endpoint_key_problem_stops_detection(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.prefix = ""
    check = await adapter.test_key(connect("custom_openai", base_url=fake_openai.url, api_key=BAD_KEY), http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "auth"
    assert len(fake_openai.requests) == 1


async def test_custom_endpoint_without_a_key_sends_none(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.models_public = True
    check = await adapter.test_key(connect("custom_openai", base_url=fake_openai.base_url), http_client)
    assert check.status == "valid" and "authorization" not in fake_openai.last.headers


async def test_a_new_openai_compatible_provider_is_one_record(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    """Nothing but a Provider record: no adapter code, no table to update elsewhere."""
    newcomer = dataclasses.replace(
        get("groq"), id="newcomer", name="Newcomer AI", endpoints=get("groq").endpoints,
        models=ModelsEndpoint("/models", fields=ModelFields(context=("ctx",))),
    )
    assert isinstance(newcomer, Provider) and newcomer not in PROVIDERS
    fake_openai.models = [{"id": "new-1", "object": "model", "created": 1, "owned_by": "x", "ctx": 4096}]
    conn = connect(newcomer, api_key=KEY, base_url=fake_openai.base_url)
    check = await adapter.test_key(conn, http_client)
    assert [(m.id, m.context_window) for m in check.models] == [("new-1", 4096)]
    events = await collect(adapter.stream_chat(conn, ChatRequest((ChatMessage("user", "hi"),), model="new-1"), http_client))
    assert text_of(events) == fake_openai.reply.text


async def test_a_server_that_ignores_stream_still_works(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(200, fake_openai.completion("m"), {"content-type": "application/json"})
    events = await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert text_of(events) == fake_openai.reply.text and [e.kind for e in events][-2:] == ["usage", "finish"]


async def test_context_too_long(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    body = {"error": {"message": "This model's maximum context length is 8192 tokens.", "type": "invalid_request_error",
                      "code": "context_length_exceeded"}}
    fake_openai.fail_next(400, body)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_openai, model="m"), HELLO, http_client))
    assert caught.value.kind == "context_too_long"
    assert "larger than the model's limit" in explain(caught.value)
