"""The `anthropic` SDK against FakeAnthropic: models, messages, streaming, error classes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.server import VALID_KEY

MESSAGES = [{"role": "user", "content": "Sing!"}]


@pytest.fixture
async def sdk(fake_anthropic: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(api_key=VALID_KEY, base_url=fake_anthropic.url, max_retries=0) as client:
        yield client


async def test_models_list_pages(sdk: anthropic.AsyncAnthropic, fake_anthropic: FakeAnthropic) -> None:
    ids = [m.id async for m in sdk.models.list(limit=2)]
    assert ids == [m["id"] for m in fake_anthropic.models]
    first = (await sdk.models.list(limit=1)).data[0]
    assert first.display_name == "Claude Sonnet 4.5" and first.max_input_tokens == 200000
    assert first.capabilities is not None and first.capabilities.image_input.supported
    sent = fake_anthropic.last.headers
    assert VALID_KEY in (sent.get("x-api-key", ""), sent.get("authorization", "").removeprefix("Bearer "))


async def test_message(sdk: anthropic.AsyncAnthropic, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.reply.reasoning = "hmm"
    message = await sdk.messages.create(model="claude-test-1", max_tokens=64, system="Bard.", messages=MESSAGES)  # type: ignore[arg-type]
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[1].text == fake_anthropic.reply.text  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 9


async def test_stream_events_and_accumulation(sdk: anthropic.AsyncAnthropic, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.reply.reasoning = "hmm, rhymes"
    async with sdk.messages.stream(model="claude-test-1", max_tokens=64, messages=MESSAGES) as stream:  # type: ignore[arg-type]
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text == fake_anthropic.reply.text
    assert final.content[0].thinking == "hmm, rhymes"  # type: ignore[union-attr]
    assert final.usage.input_tokens == 12 and final.usage.output_tokens == 9 and final.stop_reason == "end_turn"


async def test_raw_stream(sdk: anthropic.AsyncAnthropic, fake_anthropic: FakeAnthropic) -> None:
    stream = await sdk.messages.create(model="m", max_tokens=8, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    types = [event.type async for event in stream]
    assert types[0] == "message_start" and types[-1] == "message_stop" and "message_delta" in types


async def test_bad_key(fake_anthropic: FakeAnthropic) -> None:
    async with anthropic.AsyncAnthropic(api_key="sk-ant-wrong", base_url=fake_anthropic.url, max_retries=0) as sdk:
        with pytest.raises(anthropic.AuthenticationError):
            await sdk.models.list()


@pytest.mark.parametrize(("status", "error"), [
    (429, anthropic.RateLimitError), (529, anthropic.InternalServerError), (403, anthropic.PermissionDeniedError),
    (404, anthropic.NotFoundError), (500, anthropic.InternalServerError),
])
async def test_status_errors(sdk: anthropic.AsyncAnthropic, fake_anthropic: FakeAnthropic, status: int, error: type[Exception]) -> None:
    fake_anthropic.fail_next(status, None, {"retry-after": "2"})
    with pytest.raises(error) as caught:
        await sdk.messages.create(model="m", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.status_code == status  # type: ignore[attr-defined]


async def test_overloaded_error_type(sdk: anthropic.AsyncAnthropic, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail_next(529)
    with pytest.raises(anthropic.APIStatusError) as caught:
        await sdk.messages.create(model="m", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def test_mid_stream_error_event_raises(sdk: anthropic.AsyncAnthropic, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.stream_error = {"type": "overloaded_error", "message": "Overloaded"}
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        async with sdk.messages.stream(model="m", max_tokens=8, messages=MESSAGES) as stream:  # type: ignore[arg-type]
            async for _ in stream:
                pass
