"""The `cohere` SDK (v2 client) against FakeCohere: chat, streaming, models, error classes."""

from __future__ import annotations

import cohere
import pytest

from tests.fakes.cohere import FakeCohere
from tests.fakes.server import VALID_KEY

MESSAGES = [{"role": "user", "content": "Sing!"}]


@pytest.fixture(autouse=True)
def _no_cohere_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CO_API_URL", raising=False)


def client(fake: FakeCohere, key: str = VALID_KEY) -> cohere.AsyncClientV2:
    return cohere.AsyncClientV2(api_key=key, base_url=fake.url)


async def test_chat(fake_cohere: FakeCohere) -> None:
    response = await client(fake_cohere).chat(model="command-a-03-2025", messages=MESSAGES)  # type: ignore[arg-type]
    assert response.message.content is not None and response.message.content[0].text == fake_cohere.reply.text  # type: ignore[union-attr]
    assert response.finish_reason == "COMPLETE"
    assert response.usage is not None and response.usage.tokens is not None and response.usage.tokens.output_tokens == 9
    assert fake_cohere.last.headers["authorization"] == f"Bearer {VALID_KEY}"


async def test_chat_stream(fake_cohere: FakeCohere) -> None:
    text, end = "", None
    async for event in client(fake_cohere).chat_stream(model="command-a-03-2025", messages=MESSAGES):  # type: ignore[arg-type]
        if event.type == "content-delta":
            text += event.delta.message.content.text or ""  # type: ignore[union-attr]
        elif event.type == "message-end":
            end = event
    assert text == fake_cohere.reply.text
    assert end is not None and end.delta.finish_reason == "COMPLETE"  # type: ignore[union-attr]


async def test_models_list(fake_cohere: FakeCohere) -> None:
    listing = await client(fake_cohere).models.list(endpoint="chat")
    assert [m.name for m in listing.models or []] == ["command-a-03-2025", "command-a-vision-07-2025"]
    assert (listing.models or [])[0].context_length == 256000


async def test_bad_key(fake_cohere: FakeCohere) -> None:
    with pytest.raises(cohere.UnauthorizedError):
        await client(fake_cohere, "wrong").chat(model="m", messages=MESSAGES)  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "error"), [
    (429, cohere.TooManyRequestsError), (500, cohere.InternalServerError), (503, cohere.ServiceUnavailableError),
    (403, cohere.ForbiddenError), (404, cohere.NotFoundError), (498, cohere.InvalidTokenError),
])
async def test_status_errors(fake_cohere: FakeCohere, status: int, error: type[Exception]) -> None:
    fake_cohere.fail_next(status)
    with pytest.raises(error):
        await client(fake_cohere).chat(model="m", messages=MESSAGES, request_options={"max_retries": 0})  # type: ignore[arg-type]
