"""The `google-genai` SDK against FakeGemini: models, generate_content, streaming, errors."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.gemini import FakeGemini
from tests.fakes.server import VALID_KEY


def client(fake: FakeGemini, key: str = VALID_KEY) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=fake.url, api_version="v1beta"))


async def test_models_list(fake_gemini: FakeGemini) -> None:
    pager = await client(fake_gemini).aio.models.list(config={"page_size": 2})
    models = [m async for m in pager]
    assert [m.name for m in models] == [m["name"] for m in fake_gemini.models]
    assert models[0].input_token_limit == 1048576 and models[0].display_name == "Gemini 2.5 Flash"
    assert fake_gemini.last.headers["x-goog-api-key"] == VALID_KEY


async def test_generate_content(fake_gemini: FakeGemini) -> None:
    fake_gemini.reply.reasoning = "thoughts"
    response = await client(fake_gemini).aio.models.generate_content(
        model="gemini-2.5-flash", contents="Sing!", config=types.GenerateContentConfig(system_instruction="Bard."))
    assert response.text == fake_gemini.reply.text
    assert response.candidates is not None and response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata is not None and response.usage_metadata.candidates_token_count == 9
    assert fake_gemini.last.path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_stream(fake_gemini: FakeGemini) -> None:
    chunks = [c async for c in await client(fake_gemini).aio.models.generate_content_stream(model="gemini-2.5-flash", contents="Sing!")]
    assert "".join(c.text or "" for c in chunks) == fake_gemini.reply.text
    assert chunks[-1].candidates is not None and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert fake_gemini.last.query.get("alt") == "sse"


async def test_bad_key_is_a_400_client_error(fake_gemini: FakeGemini) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await client(fake_gemini, "AIza-wrong").aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert "API key not valid" in (caught.value.message or "")


@pytest.mark.parametrize(("status", "error"), [(429, errors.ClientError), (403, errors.ClientError), (500, errors.ServerError), (503, errors.ServerError)])
async def test_status_errors(fake_gemini: FakeGemini, status: int, error: type[Exception]) -> None:
    fake_gemini.fail_next(status)
    with pytest.raises(error) as caught:
        await client(fake_gemini).aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert caught.value.code == status  # type: ignore[attr-defined]
