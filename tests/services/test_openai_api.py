"""The API's routing service: name resolution and the fallback chain (before the first token only).

Presets will hand `openai_api` chains of several targets; the chain itself is tested here with a
route of two configs, against the fake upstream over a real socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rolecall.config import NetworkSettings
from rolecall.providers import ChatMessage, ChatRequest
from rolecall.resources import open_resources
from rolecall.services import openai_api, provider_configs, vault
from rolecall.services.config_input import ConfigInput
from rolecall.services.provider_configs import KeyInput
from rolecall.services.resources import Resources
from rolecall.storage.tables import Account
from tests.factories import e2e_record
from tests.fakes.server import VALID_KEY

ALICE = "a" * 24
HELLO = ChatRequest((ChatMessage("user", "Hello?"),))


@pytest.fixture
async def res(make_settings) -> AsyncIterator[Resources]:  # type: ignore[no-untyped-def]
    settings = make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))
    async with open_resources(settings, consume_jobs=False) as opened:
        async with opened.db.begin() as s:
            s.add(Account(id=ALICE, name="alice", name_key="alice", password_hash="x"))
        record, _ = e2e_record(ALICE)
        await vault.set_up(opened.db, ALICE, record["kdf_salt"], record["udk_gen"], record["wrapped_udk"])
        yield opened


async def _config(res: Resources, label: str, fake) -> None:  # type: ignore[no-untyped-def]
    await provider_configs.create(res, ALICE, label, "srv", ConfigInput("openai", base_url=fake.base_url),
                                  KeyInput(api_key=VALID_KEY))


async def _chain(res: Resources) -> openai_api.Route:
    first = await openai_api.resolve(res, ALICE, "First/gpt-4o-mini")
    second = await openai_api.resolve(res, ALICE, "Second/llama-3.1-8b-instant")
    return openai_api.Route("preset:Test", first.targets + second.targets, {**first.loaded, **second.loaded})


async def test_the_next_target_answers_when_one_fails_before_its_first_token(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await _config(res, "First", fake_openai)
    await _config(res, "Second", fake_openai)
    route = await _chain(res)
    fake_openai.fail_next(503, path="/chat/completions")
    stream = await openai_api.start_stream(res, ALICE, route, HELLO)
    text = "".join([e.text async for e in stream.events() if e.kind == "text"])
    assert stream.target.name == "Second/llama-3.1-8b-instant" and text == fake_openai.reply.text
    assert [r.json()["model"] for r in fake_openai.requests if r.path.endswith("/chat/completions")] == [
        "gpt-4o-mini", "llama-3.1-8b-instant"]
    fake_openai.fail_next(429, path="/chat/completions", headers={"retry-after": "3"})
    target, result = await openai_api.complete(res, ALICE, route, HELLO)
    assert target.label == "Second" and result.text == fake_openai.reply.text


async def test_when_every_target_fails_the_last_error_is_raised(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await _config(res, "First", fake_openai)
    await _config(res, "Second", fake_openai)
    route = await _chain(res)
    fake_openai.fail_next(503, path="/chat/completions")
    fake_openai.fail_next(429, path="/chat/completions", headers={"retry-after": "3"})
    with pytest.raises(openai_api.UpstreamFailed) as caught:
        await openai_api.start_stream(res, ALICE, route, HELLO)
    assert caught.value.kind == "rate_limited" and caught.value.retry_after == 3 and "“Second”" in caught.value.message


async def test_no_fallback_once_a_token_went_out(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await _config(res, "First", fake_openai)
    await _config(res, "Second", fake_openai)
    route = await _chain(res)
    fake_openai.plan.break_after = 3
    stream = await openai_api.start_stream(res, ALICE, route, HELLO)
    received = []
    with pytest.raises(openai_api.UpstreamFailed):
        async for event in stream.events():
            received.append(event.text)
    assert received and stream.target.label == "First"
    assert len([r for r in fake_openai.requests if r.path.endswith("/chat/completions")]) == 1


async def test_names_resolve_to_the_longest_label_and_nothing_else(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await _config(res, "a", fake_openai)
    await _config(res, "a/b", fake_openai)
    assert (await openai_api.resolve(res, ALICE, "a/b/c")).targets[0].name == "a/b/c"
    assert (await openai_api.resolve(res, ALICE, "a/b/c")).targets[0].label == "a/b"
    assert (await openai_api.resolve(res, ALICE, "a/x")).targets[0].model_id == "x"
    assert (await openai_api.resolve(res, ALICE, "a/b/")).targets[0].model_id == "b/"  # "a/b" leaves no model id
    for name in ("", "a", "a/", "/a", "b/c", "A/x", "x" * 600):
        with pytest.raises(openai_api.ModelNotFound):
            await openai_api.resolve(res, ALICE, name)


async def test_a_new_config_is_reachable_at_once_after_a_not_found(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai_api.ModelNotFound):
        await openai_api.resolve(res, ALICE, "Fresh/gpt-4o-mini")
    await _config(res, "Fresh", fake_openai)
    route = await openai_api.resolve(res, ALICE, "Fresh/gpt-4o-mini")  # "not found" is never remembered
    assert route.targets[0].label == "Fresh"
    assert await openai_api.resolve(res, ALICE, "Fresh/gpt-4o-mini") is route  # a burst pays one query
