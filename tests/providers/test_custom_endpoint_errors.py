"""Behind a Custom Base URL, say what actually happened (issue 10, items 10 and 12).

Only the model-list / base probe explains a 404 as a wrong path; a 404 on chat means the model (or
Azure deployment) isn't available to the key. A redirect or an oversized answer is named as such.
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from rolecall.net import make_client
from rolecall.providers import ProviderError, connect, explain, headline, protocol_for
from rolecall.providers.guide_texts import GUIDE_TEXTS
from tests.fakes.azure_openai import FakeAzureOpenAI
from tests.fakes.fixtures import LOOPBACK_ONLY
from tests.fakes.openai_compat import FakeOpenAI
from tests.providers.helpers import HELLO, KEY

adapter = protocol_for("openai_compat")
MINI = dataclasses.replace(HELLO, model="gpt-5-nonexistent")


def custom(fake: FakeOpenAI):  # type: ignore[no-untyped-def]
    return connect("custom_openai", api_key=KEY, base_url=fake.base_url)


async def test_unknown_model_on_chat_is_not_a_wrong_path(
    fake_openai: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    body = fake_openai.error_body(404, "The model `gpt-5-nonexistent` does not exist or you do not have access to it.")
    fake_openai.fail_next(404, body, path="/chat/completions")
    with pytest.raises(ProviderError) as caught:
        await adapter.chat(custom(fake_openai), MINI, http_client)
    assert caught.value.kind == "not_found"
    assert "isn't available to your key" in explain(caught.value)
    assert "wrong path" not in explain(caught.value) and headline(caught.value) == "Model not available"


async def test_a_missing_models_list_is_still_a_wrong_path(
    fake_openai: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    conn = connect("custom_openai", api_key=KEY, base_url=fake_openai.url + "/wrong")
    check = await adapter.test_key(conn, http_client)
    assert check.status == "invalid" and check.error is not None
    assert explain(check.error) == GUIDE_TEXTS["not_found_custom"] and headline(check.error) == "404 Not Found"


async def test_unknown_azure_deployment_is_explained_as_the_model(
    fake_azure: FakeAzureOpenAI, http_client: httpx.AsyncClient
) -> None:
    conn = connect("azure_openai", api_key=KEY, base_url=fake_azure.url + "/openai",
                   values={"resource_name": "my-res", "deployment_id": "nope"})
    check = await protocol_for("azure_openai").test_key(conn, http_client)
    assert check.status == "invalid" and check.error is not None and check.error.kind == "not_found"
    assert "isn't available to your key" in explain(check.error) and "Azure" in explain(check.error)


async def test_a_redirect_is_named_not_called_a_wrong_path(
    fake_openai: FakeOpenAI, http_client: httpx.AsyncClient
) -> None:
    fake_openai.fail_next(301, b"", {"location": "https://llm.example.net/v1/models"}, times=3)
    check = await adapter.test_key(custom(fake_openai), http_client)
    assert check.error is not None and check.error.status == 301
    text = explain(check.error)
    assert "redirect (HTTP 301) to https://llm.example.net/v1/models" in text and "wrong path" not in text
    assert headline(check.error) == "Redirected (HTTP 301)"


async def test_an_oversized_answer_is_named_not_called_a_wrong_path(fake_openai: FakeOpenAI) -> None:
    fake_openai.models = [{"id": f"model-{n:04d}", "object": "model"} for n in range(200)]
    async with make_client(LOOPBACK_ONLY, max_response_bytes=2000) as small:
        check = await adapter.test_key(custom(fake_openai), small)
    assert check.error is not None and headline(check.error) == "Answer too large"
    text = explain(check.error)
    assert "larger than the 2,000-byte limit" in text and "wrong path" not in text


async def test_redirect_on_chat_is_named_too(fake_openai: FakeOpenAI, http_client: httpx.AsyncClient) -> None:
    fake_openai.fail_next(307, b"", {"location": "https://other.example/v1/chat/completions"}, path="/chat/completions")
    with pytest.raises(ProviderError) as caught:
        await adapter.chat(custom(fake_openai), MINI, http_client)
    assert "doesn't follow redirects" in explain(caught.value)
