"""The novelai adapter against FakeNovelAI over real sockets."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from rolecall.providers import ProviderError, connect, protocol_for
from tests.fakes.novelai import TOKEN, FakeNovelAI
from tests.providers.helpers import BAD_KEY, HELLO, assert_key_only_in, collect, free_port, text_of

adapter = protocol_for("novelai")
ERATO = dataclasses.replace(HELLO, model="llama-3-erato-v1")


def conn_for(fake: FakeNovelAI, key: str = TOKEN, **kwargs: object):  # type: ignore[no-untyped-def]
    return connect("novelai", api_key=key, base_url=fake.url, **kwargs)  # type: ignore[arg-type]


def test_registry_hosts() -> None:
    conn = connect("novelai", api_key=TOKEN)
    assert conn.base_url == "https://text.novelai.net" and conn.url("account") == "https://api.novelai.net"


async def test_key_check_uses_the_subscription_endpoint(fake_novelai: FakeNovelAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_novelai), http_client)
    assert check.status == "valid" and [m.id for m in check.models][:2] == ["llama-3-erato-v1", "kayra-v1"]
    assert [r.path for r in fake_novelai.requests] == ["/user/subscription"]
    assert_key_only_in(fake_novelai.last, "authorization", TOKEN)


async def test_bad_token(fake_novelai: FakeNovelAI, http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(conn_for(fake_novelai, key=BAD_KEY), http_client)
    assert check.status == "invalid" and check.error is not None
    assert (check.error.kind, check.error.message) == ("auth", "Access Token is incorrect.")


@pytest.mark.parametrize(("status", "kind", "verdict"), [(429, "rate_limited", "unchecked"), (500, "unavailable", "unchecked")])
async def test_error_statuses(fake_novelai: FakeNovelAI, http_client: httpx.AsyncClient, status: int, kind: str, verdict: str) -> None:
    fake_novelai.fail_next(status)
    check = await adapter.test_key(conn_for(fake_novelai), http_client)
    assert check.status == verdict and check.error is not None and check.error.kind == kind


async def test_connection_refused(http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(connect("novelai", api_key=TOKEN, base_url=f"http://127.0.0.1:{free_port()}"), http_client)
    assert check.status == "unchecked" and check.error is not None and check.error.kind == "unavailable"


async def test_generate(fake_novelai: FakeNovelAI, http_client: httpx.AsyncClient) -> None:
    conn = conn_for(fake_novelai, body={"repetition_penalty": 1.1})
    request = dataclasses.replace(ERATO, temperature=1.2, max_tokens=1000, params={"input": "evil", "top_k": 40})
    result = await adapter.chat(conn, request, http_client)
    assert result.text == fake_novelai.reply.text
    assert fake_novelai.last.json() == {
        "input": "You are a bard.\nSing!", "model": "llama-3-erato-v1",
        "parameters": {"use_string": True, "min_length": 1, "max_length": 250, "temperature": 1.2, "repetition_penalty": 1.1,
                       "top_k": 40},
    }


async def test_stream(fake_novelai: FakeNovelAI, http_client: httpx.AsyncClient) -> None:
    events = await collect(adapter.stream_chat(conn_for(fake_novelai), ERATO, http_client))
    assert text_of(events) == fake_novelai.reply.text and events[-1].kind == "finish"
    assert fake_novelai.last.path == "/ai/generate-stream"


async def test_stream_reset_and_malformed(fake_novelai: FakeNovelAI, http_client: httpx.AsyncClient) -> None:
    fake_novelai.plan.break_after = 2
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_novelai), ERATO, http_client))
    assert caught.value.kind == "unavailable"
    fake_novelai.plan.break_after = None
    fake_novelai.plan.malformed_at = 1
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_novelai), ERATO, http_client))
    assert caught.value.kind == "bad_response"


async def test_glm_goes_through_the_openai_shim(fake_novelai: FakeNovelAI, http_client: httpx.AsyncClient) -> None:
    glm = dataclasses.replace(HELLO, model="glm-4-6")
    result = await adapter.chat(conn_for(fake_novelai), glm, http_client)
    assert result.text == fake_novelai.reply.text and fake_novelai.last.path == "/oa/v1/chat/completions"
    events = await collect(adapter.stream_chat(conn_for(fake_novelai), glm, http_client))
    assert text_of(events) == fake_novelai.reply.text and events[-1].finish_reason == "stop"
    assert_key_only_in(fake_novelai.last, "authorization", TOKEN)
