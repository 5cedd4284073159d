"""`openai.AsyncAzureOpenAI` against FakeAzureOpenAI: deployment URL, api-key, api-version."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.fakes.server import VALID_KEY

MESSAGES = [{"role": "user", "content": "Sing!"}]


@pytest.fixture
async def sdk(fake_azure: FakeAzureOpenAI) -> AsyncIterator[openai.AsyncAzureOpenAI]:
    async with openai.AsyncAzureOpenAI(azure_endpoint=fake_azure.url, api_key=VALID_KEY, api_version="2024-10-21", max_retries=0) as client:
        yield client


async def test_chat(sdk: openai.AsyncAzureOpenAI, fake_azure: FakeAzureOpenAI) -> None:
    result = await sdk.chat.completions.create(model="gpt-4o-prod", messages=MESSAGES)  # type: ignore[arg-type]
    assert result.choices[0].message.content == fake_azure.reply.text and result.model == "gpt-4o-2024-11-20"
    sent = fake_azure.last
    assert sent.path == "/openai/deployments/gpt-4o-prod/chat/completions" and sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == VALID_KEY


async def test_stream(sdk: openai.AsyncAzureOpenAI, fake_azure: FakeAzureOpenAI) -> None:
    stream = await sdk.chat.completions.create(model="gpt-4o-prod", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    chunks = [c async for c in stream]
    assert chunks[0].choices == [] and "prompt_filter_results" in (chunks[0].model_extra or {})
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake_azure.reply.text


async def test_models(sdk: openai.AsyncAzureOpenAI) -> None:
    page = await sdk.models.list()
    assert [m.id for m in page.data] == ["gpt-4o-2024-11-20"]


async def test_errors(fake_azure: FakeAzureOpenAI) -> None:
    async with openai.AsyncAzureOpenAI(azure_endpoint=fake_azure.url, api_key="0" * 32, api_version="2024-10-21", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            await bad.chat.completions.create(model="gpt-4o-prod", messages=MESSAGES)  # type: ignore[arg-type]
    async with openai.AsyncAzureOpenAI(azure_endpoint=fake_azure.url, api_key=VALID_KEY, api_version="2024-10-21", max_retries=0) as sdk:
        with pytest.raises(openai.NotFoundError) as caught:
            await sdk.chat.completions.create(model="missing", messages=MESSAGES)  # type: ignore[arg-type]
        assert caught.value.code == "DeploymentNotFound"
        fake_azure.fail_next(429, None, {"retry-after": "1"})
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(model="gpt-4o-prod", messages=MESSAGES)  # type: ignore[arg-type]
