"""The OpenAI-compatible API, driven by the official `openai` SDK against the app in-process,
with configs pointing at the fake OpenAI-compatible upstream over a real socket."""

from __future__ import annotations

import json

import openai
import pytest

from rolecall.services import breaker
from tests.fakes.fixtures import _anthropic_server, _openai_server, fake_anthropic, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.web.openai_api_helpers import (  # noqa: F401
    add_e2e_config,
    add_server_config,
    alice,
    bob,
    new_token,
    post,
    sdk,
    settings,
)

HISTORY = [{"role": "system", "content": "You are a tavern keeper."}, {"role": "user", "content": "Hello?"}]


async def test_models_lists_server_accessible_configs_as_label_slash_model(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    await add_e2e_config(alice, "Private", fake_openai)
    client = sdk(app, await new_token(alice))
    ids = [m.id async for m in client.models.list()]
    assert "Work/gpt-4o-mini" in ids and "Work/meta-llama/llama-3.3-70b-instruct" in ids
    assert not [i for i in ids if i.startswith("Private/")]  # the server cannot open an E2E key
    model = await client.models.retrieve("Work/gpt-4o-mini")
    assert model.id == "Work/gpt-4o-mini" and model.object == "model" and model.owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("Private/gpt-4o-mini")


async def test_a_whole_completion_comes_back_in_openai_shape(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    answer = await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY, temperature=0.3,
                                                  max_tokens=50, seed=7)
    assert answer.object == "chat.completion" and answer.id.startswith("chatcmpl-")
    assert answer.model == "Work/gpt-4o-mini"
    assert answer.choices[0].message.content == fake_openai.reply.text
    assert answer.choices[0].message.role == "assistant" and answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (12, 9, 21)
    sent = fake_openai.last.json()  # what reached the provider: its own model id, the config's key
    # Streamed upstream even for a whole answer: the first-token deadline and the fallback rule are the
    # same as for a stream (docs/decisions.md, "Issue 12: the fallback chain in generation").
    assert sent["model"] == "gpt-4o-mini" and sent["messages"] == HISTORY and sent["stream"] is True
    assert (sent["temperature"], sent["max_completion_tokens"], sent["seed"]) == (0.3, 50, 7)
    assert fake_openai.last.headers["authorization"] == f"Bearer {VALID_KEY}"


async def test_a_stream_relays_every_piece_then_usage_when_asked(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    fake_openai.plan.chunk_delay = 0.03  # a provider's pace: each piece arrives on its own
    stream = await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY, stream=True,
                                                  stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces == fake_openai.reply.pieces(fake_openai.reply.text)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 21
    assert all(c.usage is None for c in chunks[:-1]) and {c.id for c in chunks} == {chunks[0].id}
    assert {c.model for c in chunks} == {"Work/gpt-4o-mini"}


async def test_pieces_that_arrive_together_go_on_together(app, alice, fake_openai, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    frames = fake_openai.stream_frames("gpt-4o-mini", include_usage=False)
    monkeypatch.setattr(fake_openai, "stream_frames", lambda model, include_usage: [b"".join(frames)])  # one write
    chunks = [c async for c in await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY,
                                                                        stream=True)]
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces == [fake_openai.reply.text]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


async def test_a_stream_without_include_usage_has_no_usage_chunk(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    chunks = [c async for c in await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY, stream=True)]
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == fake_openai.reply.text


async def test_labels_and_model_ids_may_both_hold_slashes(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "team/openrouter", fake_openai)
    await add_server_config(alice, "team", fake_openai, test=False)
    client = sdk(app, await new_token(alice))
    answer = await client.chat.completions.create(model="team/openrouter/meta-llama/llama-3.3-70b-instruct",
                                                  messages=HISTORY)
    assert fake_openai.last.json()["model"] == "meta-llama/llama-3.3-70b-instruct"  # the longest label won
    assert answer.model == "team/openrouter/meta-llama/llama-3.3-70b-instruct"


async def test_other_protocols_are_reachable_too(app, alice, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    body = {"provider_id": "anthropic", "base_url": fake_anthropic.base_url, "label": "Claude", "privacy_mode": "srv",
            "api_key": VALID_KEY}
    assert (await post(alice.client, "/api/provider-configs", body)).status_code == 201
    client = sdk(app, await new_token(alice))
    stream = await client.chat.completions.create(model="Claude/claude-sonnet-4-5", messages=HISTORY, stream=True,
                                                  presence_penalty=0.5)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == fake_anthropic.reply.text
    assert "presence_penalty" not in fake_anthropic.last.json()  # OpenAI's sampler names stay with OpenAI's format


# --- errors, as the SDK's own classes ----------------------------------------------------------

async def test_errors_are_the_sdks_own_classes(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    token = await new_token(alice)
    with pytest.raises(openai.AuthenticationError) as bad_token:
        await sdk(app, token[:-2] + "xx").models.list()
    assert bad_token.value.code == "invalid_api_key" and bad_token.value.status_code == 401
    client = sdk(app, token)
    with pytest.raises(openai.NotFoundError) as unknown:
        await client.chat.completions.create(model="Nope/gpt-4o-mini", messages=HISTORY)
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"
    assert "does not exist or you do not have access to it" in unknown.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(model="Work/gpt-4o-mini", messages=[])
    assert bad.value.param == "messages"


async def test_upstream_failures_map_to_openai_statuses(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    cases = [
        (429, {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
         {"retry-after": "7"}, openai.RateLimitError, "rate_limit_exceeded"),
        (429, {"error": {"message": "You exceeded your quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
         {}, openai.RateLimitError, "insufficient_quota"),
        (400, {"error": {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}},
         {}, openai.BadRequestError, "context_length_exceeded"),
        (404, {"error": {"message": "The model does not exist", "code": "model_not_found"}}, {}, openai.NotFoundError,
         "model_not_found"),
        (400, {"error": {"message": "filtered", "code": "content_filter"}}, {}, openai.BadRequestError,
         "content_policy_violation"),
        (503, {"error": {"message": "overloaded"}}, {}, openai.InternalServerError, "upstream_unavailable"),
        (500, {"error": {"message": "boom"}}, {}, openai.InternalServerError, "upstream_unavailable"),
    ]
    for status, body, headers, error_class, code in cases:
        for stream in (False, True):
            fake_openai.fail_next(status, body, headers, path="/chat/completions")
            with pytest.raises(error_class) as caught:
                await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY, stream=stream)
            assert caught.value.code == code, (status, body)
            assert "“Work”" in caught.value.message
            if status == 429 and code == "rate_limit_exceeded":
                assert caught.value.response.headers["retry-after"] == "7"
            if status == 503:
                assert caught.value.status_code == 503
            if status == 500:
                assert caught.value.status_code == 502
            await breaker.reset(app.state.res.cache, config_id)  # each case meets a closed circuit


async def test_a_providers_retry_after_is_honoured_for_later_calls(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    fake_openai.fail_next(429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, {"retry-after": "30"},
                          path="/chat/completions")
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY)
    calls = len(fake_openai.requests)
    with pytest.raises(openai.RateLimitError) as caught:  # not sent upstream until the provider's time has passed
        await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY)
    assert caught.value.code == "rate_limit_exceeded" and "“Work”" in caught.value.message
    assert "retry-after" in caught.value.response.headers and len(fake_openai.requests) == calls


async def test_an_upstream_auth_failure_is_not_our_401_and_marks_the_config_invalid(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    fake_openai.keys = {"sk-another-key-entirely-0000000000"}
    fake_openai.echo_key = True  # the provider repeats the key it was sent: it must not reach the client
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY)
    assert caught.value.status_code == 502 and caught.value.code == "upstream_invalid_api_key"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert VALID_KEY not in caught.value.response.text
    configs = (await alice.client.get("/api/provider-configs")).json()
    assert [c["status"] for c in configs if c["id"] == config_id] == ["invalid"]


async def test_a_stream_that_breaks_after_the_first_token_ends_with_an_error_event(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    client = sdk(app, await new_token(alice))
    fake_openai.plan.break_after = 3
    stream = await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY, stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) and "“Work”" in caught.value.message
    assert caught.value.body and json.dumps(caught.value.body)  # the error object as OpenAI sends it


async def test_scope_and_rate_limit_errors_are_the_sdks_classes_too(make_settings, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from asgi_lifespan import LifespanManager

    from rolecall.app import create_app
    from rolecall.config import LimitSettings, NetworkSettings
    from tests.web.openai_api_helpers import person

    app = create_app(make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]), limits=LimitSettings(api_requests_per_minute=2)))
    async with LifespanManager(app):
        who = await person(app, "erin")
        await add_server_config(who, "Work", fake_openai)
        client = sdk(app, await new_token(who, scopes=["chat"]))
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await client.models.list()
        assert denied.value.code == "insufficient_scope"
        await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY)
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="Work/gpt-4o-mini", messages=HISTORY)
        assert limited.value.code == "rate_limit_exceeded" and int(limited.value.response.headers["retry-after"]) >= 1
        await who.client.aclose()
