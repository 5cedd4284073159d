"""The `openai` SDK against FakeOpenAI: models, chat, streaming, and its error classes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import VALID_KEY


@pytest.fixture
async def sdk(fake_openai: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key=VALID_KEY, base_url=fake_openai.base_url, max_retries=0) as client:
        yield client


MESSAGES = [{"role": "user", "content": "Sing!"}]


async def test_models_list(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    page = await sdk.models.list()
    assert [m.id for m in page.data] == [m["id"] for m in fake_openai.models]
    assert page.data[0].owned_by == "system" and page.data[0].object == "model"
    assert fake_openai.last.headers["authorization"] == f"Bearer {VALID_KEY}"


async def test_chat_completion(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.reply.reasoning = "why not"
    result = await sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert result.choices[0].message.content == fake_openai.reply.text
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None and result.usage.total_tokens == 21
    assert result.choices[0].message.model_extra == {"reasoning_content": "why not"}


async def test_streaming_with_usage(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == fake_openai.reply.text and finish == "stop"
    assert usage is not None and usage.completion_tokens == 9


async def test_stream_helper_accumulates(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    async with sdk.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:  # type: ignore[arg-type]
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == fake_openai.reply.text


async def test_bad_key_is_authentication_error(fake_openai: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(api_key="sk-wrong-key-1234567890", base_url=fake_openai.base_url, max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.models.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


async def test_rate_limit_with_retry_after(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(429, None, {"retry-after": "3"})
    with pytest.raises(openai.RateLimitError) as caught:
        await sdk.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.type == "rate_limit_exceeded"


@pytest.mark.parametrize(("status", "error"), [
    (403, openai.PermissionDeniedError), (404, openai.NotFoundError), (400, openai.BadRequestError),
    (500, openai.InternalServerError), (503, openai.InternalServerError),
])
async def test_status_errors(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI, status: int, error: type[Exception]) -> None:
    fake_openai.fail_next(status)
    with pytest.raises(error):
        await sdk.models.list()


async def test_mid_stream_error_object_raises(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.stream_error = {"code": 502, "message": "Provider returned error"}
    stream = await sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError, match="Provider returned error"):
        async for _ in stream:
            pass


async def test_openrouter_comments_are_ignored_by_the_sdk(sdk: openai.AsyncOpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.comments = True
    stream = await sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == fake_openai.reply.text
