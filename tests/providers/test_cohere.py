"""The cohere adapter against FakeCohere over real sockets."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from rolecall.providers import ProviderError, connect, protocol_for
from tests.fakes.cohere import FakeCohere
from tests.providers.helpers import BAD_KEY, HELLO, KEY, assert_key_only_in, collect, collect_until_error, free_port, text_of

adapter = protocol_for("cohere")
COMMAND = dataclasses.replace(HELLO, model="command-a-03-2025")


def conn_for(fake: FakeCohere, key: str = KEY, **kwargs: object):  # type: ignore[no-untyped-def]
    return connect("cohere", api_key=key, base_url=fake.base_url, **kwargs)  # type: ignore[arg-type]


async def test_list_models_chat_only_with_metadata(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    models = await adapter.list_models(conn_for(fake_cohere), http_client)
    assert [(m.id, m.context_window) for m in models] == [("command-a-03-2025", 256000), ("command-a-vision-07-2025", 128000)]
    assert models[0].capabilities == {"json", "tools"} and models[1].capabilities == {"vision", "json"}
    assert fake_cohere.last.query == {"endpoint": "chat", "page_size": "1000"}
    assert_key_only_in(fake_cohere.last, "authorization")


async def test_paging(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    fake_cohere.models = [dict(fake_cohere.models[0], name=f"command-{i}") for i in range(1200)]
    assert len(await adapter.list_models(conn_for(fake_cohere), http_client)) == 1200
    assert fake_cohere.last.query["page_token"] == "1000"


async def test_key_outcomes(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    assert (await adapter.test_key(conn_for(fake_cohere), http_client)).status == "valid"
    bad = await adapter.test_key(conn_for(fake_cohere, key=BAD_KEY), http_client)
    assert bad.status == "invalid" and bad.error is not None and (bad.error.kind, bad.error.message) == ("auth", "invalid api token")


@pytest.mark.parametrize(("status", "kind", "verdict"), [
    (498, "auth", "invalid"), (429, "rate_limited", "unchecked"), (500, "unavailable", "unchecked"), (503, "unavailable", "unchecked"),
])
async def test_error_statuses(fake_cohere: FakeCohere, http_client: httpx.AsyncClient, status: int, kind: str, verdict: str) -> None:
    fake_cohere.fail_next(status, None, {"retry-after": "5"})
    check = await adapter.test_key(conn_for(fake_cohere), http_client)
    assert check.status == verdict and check.error is not None and check.error.kind == kind


async def test_connection_refused(http_client: httpx.AsyncClient) -> None:
    check = await adapter.test_key(connect("cohere", api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}"), http_client)
    assert check.status == "unchecked" and check.error is not None and check.error.kind == "unavailable"


async def test_chat(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    fake_cohere.reply.reasoning = "hmm"
    result = await adapter.chat(conn_for(fake_cohere, body={"k": 40, "safety_mode": "OFF"}),
                                dataclasses.replace(COMMAND, top_p=0.9), http_client)
    assert (result.text, result.reasoning, result.finish_reason) == (fake_cohere.reply.text, "hmm", "stop")
    assert result.usage is not None and result.usage.output_tokens == 9
    assert fake_cohere.last.json() == {
        "model": "command-a-03-2025", "stream": False, "max_tokens": 64, "p": 0.9, "k": 40, "safety_mode": "OFF",
        "messages": [{"role": "system", "content": "You are a bard."}, {"role": "user", "content": "Sing!"}],
    }


async def test_stream(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    fake_cohere.reply.reasoning = "Let me see."
    fake_cohere.reply.finish = "length"
    events = await collect(adapter.stream_chat(conn_for(fake_cohere), COMMAND, http_client))
    assert text_of(events, "reasoning") == "Let me see." and text_of(events) == fake_cohere.reply.text
    assert [e.kind for e in events][-2:] == ["usage", "finish"] and events[-1].finish_reason == "length"


async def test_stream_error_at_message_end(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    fake_cohere.stream_error = "internal error"
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_cohere), COMMAND, http_client))
    assert (caught.value.kind, caught.value.message) == ("unavailable", "internal error")


async def test_reset_mid_stream(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    fake_cohere.plan.break_after = 4
    seen, error = await collect_until_error(adapter.stream_chat(conn_for(fake_cohere), COMMAND, http_client))
    assert error.kind == "unavailable" and text_of(seen) == "Hello there,"


async def test_malformed(fake_cohere: FakeCohere, http_client: httpx.AsyncClient) -> None:
    fake_cohere.plan.malformed_at = 2
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(conn_for(fake_cohere), COMMAND, http_client))
    assert caught.value.kind == "bad_response"
