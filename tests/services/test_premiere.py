"""The Premiere Theater: operator upstreams from settings, operator keys read only here."""

from __future__ import annotations

import os

import pytest

from rolecall.config import PremiereModel, PremiereSettings, PremiereUpstream
from rolecall.providers import ChatMessage, ChatRequest, ProviderError, connect, protocol_for
from rolecall.services import catalog, premiere
from rolecall.services.errors import NotFound
from rolecall.services.premiere import PremiereUnavailable
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.services.conftest import add_account


@pytest.fixture
def settings(make_settings, fake_openai, tmp_path):  # type: ignore[no-untyped-def]
    key_file = tmp_path / "vllm.key"
    key_file.write_text(VALID_KEY + "\n")
    return make_settings(premiere=PremiereSettings(
        upstreams=[
            PremiereUpstream(id="local", provider="custom_openai", base_url=fake_openai.base_url,
                             api_key_env="HOUSE_VLLM_KEY", allow_private=True),
            PremiereUpstream(id="filed", provider="custom_openai", base_url=fake_openai.base_url,
                             api_key_file=key_file, allow_private=True),
        ],
        models=[
            PremiereModel(id="house-llama", upstream="local", upstream_model="meta-llama/Llama-3.1-8B-Instruct",
                          name="House Llama", context_window=131072, capabilities=["tools"], input_price=0.1, output_price=0.2),
            PremiereModel(id="filed-model", upstream="filed"),
        ],
    ))


async def _reply(call: premiere.PremiereCall) -> str:
    adapter = protocol_for(call.connection.provider.protocol)
    request = ChatRequest((ChatMessage("user", "Hello"),))
    return "".join([e.text async for e in adapter.stream_chat(call.connection, request, call.http) if e.kind == "text"])


async def test_a_premiere_model_streams_from_a_local_server_with_the_operators_key(res, fake_openai, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOUSE_VLLM_KEY", VALID_KEY)
    call = premiere.open_model(res, "house-llama")
    assert call.upstream_model == "meta-llama/Llama-3.1-8B-Instruct" and (call.input_price, call.output_price) == (0.1, 0.2)
    assert await _reply(call)
    sent = fake_openai.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {VALID_KEY}"
    assert sent.json()["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert VALID_KEY not in repr(call) and VALID_KEY not in repr(call.connection)


async def test_the_private_address_is_allowed_for_premiere_calls_only(res, fake_openai, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOUSE_VLLM_KEY", VALID_KEY)
    assert res.premiere_http is not None and res.premiere_http is not res.http
    # A person pointing their own config at the operator's server is refused by the people's policy.
    own = connect("custom_openai", api_key="sk-mine-0000000000000000", base_url=fake_openai.base_url, model="x")
    with pytest.raises(ProviderError) as refused:
        async for _ in protocol_for("openai_compat").stream_chat(own, ChatRequest((ChatMessage("user", "hi"),)), res.http):
            pass
    assert refused.value.kind == "blocked"


async def test_keys_come_from_a_file_and_a_missing_key_is_a_clear_error(res, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert await _reply(premiere.open_model(res, "filed-model"))
    assert "HOUSE_VLLM_KEY" not in os.environ
    with pytest.raises(PremiereUnavailable, match="the operator's key for upstream 'local' is not configured"):
        premiere.open_model(res, "house-llama")
    with pytest.raises(NotFound):
        premiere.open_model(res, "gpt-9")


async def test_the_catalogs_premiere_section_comes_from_the_settings(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    section = (await catalog.catalog(res, alice))["sections"][0]
    assert section["id"] == "premiere" and section["label"] == "Premiere Theater"
    first = section["models"][0]
    assert [m["id"] for m in section["models"]] == ["house-llama", "filed-model"]
    assert (first["name"], first["context_label"], first["capabilities"]) == ("House Llama", "128K", ["tools"])
    assert (first["input_price"], first["output_price"]) == (0.1, 0.2)


async def test_a_premiere_generation_is_charged_by_reported_or_estimated_tokens(res, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rolecall.providers import Usage
    from rolecall.services import token_balance

    monkeypatch.setenv("HOUSE_VLLM_KEY", VALID_KEY)
    alice = await add_account(res, "alice")
    start = await token_balance.current(res.db, res.settings.premiere, alice)
    call = premiere.open_model(res, "house-llama")
    assert await premiere.charge(res, alice, call, Usage(input_tokens=40, output_tokens=60), "", "") == (100, False)
    assert await premiere.charge(res, alice, call, None, "p" * 40, "o" * 20) == (15, True)
    assert await token_balance.current(res.db, res.settings.premiere, alice) == start - 115
    assert premiere.breaker_key(res.settings, "house-llama") == "premiere:local"
