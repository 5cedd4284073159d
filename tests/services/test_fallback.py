"""The chain walk's plan: scene model first, the preset's slots after, and every skip with its reason."""

from __future__ import annotations

import pytest

from rolecall.config import PremiereModel, PremiereSettings, PremiereUpstream
from rolecall.services import breaker, fallback, presets, provider_configs, token_balance
from rolecall.services.presets import SlotInput
from tests.factories import add_provider_config, e2e_record
from tests.services.conftest import add_account

PREMIERE = PremiereSettings(upstreams=[PremiereUpstream(id="house", provider="openrouter", api_key_env="HOUSE_KEY")],
                            models=[PremiereModel(id="house-llama", upstream="house")], starting_grant=500, refill_every="never")


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(premiere=PREMIERE)


async def guide_chain(res):  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    _, udk = e2e_record(alice)
    anthropic = await add_provider_config(res.db, alice, mode="e2e", udk=udk, provider_id="anthropic",
                                          origin="https://api.anthropic.com", label="Anthropic personal")
    router = await add_provider_config(res.db, alice, mode="srv", ring=res.keyring, provider_id="openrouter",
                                       origin="https://openrouter.ai", label="OpenRouter fallback")
    preset = await presets.create(res.db, res.settings, alice, name="Guide", slots=[
        SlotInput(anthropic.id, "claude-sonnet-4-5"), SlotInput(router.id, "anthropic/claude-sonnet-4.5"),
        SlotInput("premiere", "house-llama")])
    return alice, anthropic.id, router.id, preset.id


async def test_a_foreground_turn_can_run_the_whole_chain(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_chain(res)
    walk = await fallback.plan(res, alice, scene_model=None, preset_id=preset)
    assert [(p.position, p.label, p.provider_id, p.runnable) for p in walk] == [
        (0, "Anthropic personal", "anthropic", True), (1, "OpenRouter fallback", "openrouter", True),
        (2, "Premiere Theater", "openrouter", True)]
    assert walk[2].breaker_id == "premiere:house"


async def test_the_scene_model_goes_first_and_repeats_are_dropped(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_chain(res)
    walk = await fallback.plan(res, alice, scene_model=(router, "anthropic/claude-sonnet-4.5"), preset_id=preset)
    assert [(p.section, p.model_id) for p in walk] == [
        (router, "anthropic/claude-sonnet-4.5"), (anthropic, "claude-sonnet-4-5"), ("premiere", "house-llama")]


async def test_with_nothing_chosen_the_premiere_theater_answers(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    walk = await fallback.plan(res, alice, scene_model=None, preset_id=None)
    assert [(p.section, p.model_id, p.label, p.runnable) for p in walk] == [
        ("premiere", "house-llama", "Premiere Theater", True)]
    empty = await presets.create(res.db, res.settings, alice, name="No models yet")
    assert [p.model_id for p in await fallback.plan(res, alice, scene_model=None, preset_id=empty.id)] == ["house-llama"]
    config = await add_provider_config(res.db, alice, mode="srv", ring=res.keyring, provider_id="openrouter",
                                       origin="https://openrouter.ai", label="Gone soon")
    gone = await presets.create(res.db, res.settings, alice, name="Gone", slots=[SlotInput(config.id, "openai/gpt-4o")])
    await provider_configs.delete(res.db, alice, config.id)
    walk = await fallback.plan(res, alice, scene_model=None, preset_id=gone.id)
    assert [(p.skip_kind, p.model_id) for p in walk] == [("broken", "openai/gpt-4o"), ("", "house-llama")]


async def test_without_premiere_models_nothing_chosen_is_an_empty_walk(res, make_settings) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    res.settings = make_settings()
    assert await fallback.plan(res, alice, scene_model=None, preset_id=None) == []


async def test_background_jobs_skip_e2e_and_open_circuits_are_skipped(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_chain(res)
    for _ in range(3):
        verdict = (await breaker.check(res.cache, [router]))[router]
        await breaker.record_failure(res.cache, verdict, "unavailable")
    walk = await fallback.plan(res, alice, scene_model=None, preset_id=preset, background=True)
    assert [(p.skip_kind, p.runnable) for p in walk] == [("key_unavailable", False), ("circuit_open", False), ("", True)]
    assert walk[0].skip == "End-to-end encrypted keys can't be used by background jobs; add a Server-Accessible config"
    assert "failed 3 times in a row" in walk[1].skip


async def test_an_empty_balance_and_a_deleted_config_are_skips_with_reasons(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_chain(res)
    await token_balance.current(res.db, res.settings.premiere, alice)
    await token_balance.debit(res.db, alice, 500)
    await provider_configs.delete(res.db, alice, router)
    walk = await fallback.plan(res, alice, scene_model=None, preset_id=preset)
    assert [p.skip_kind for p in walk] == ["", "broken", "balance_empty"]
    assert walk[2].skip == "Your Premiere Theater balance is empty; add a BYOK provider to keep going"


async def test_an_unused_probe_claim_is_given_back(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_chain(res)
    policy = breaker.Policy(cooldown=0.0)
    for _ in range(3):
        verdict = (await breaker.check(res.cache, [router], policy=policy))[router]
        await breaker.record_failure(res.cache, verdict, "timeout", policy=policy)
    walk = await fallback.plan(res, alice, scene_model=None, preset_id=preset, policy=policy)
    assert walk[1].verdict is not None and walk[1].verdict.probe  # the walk holds the probe
    await fallback.release_unused(res, walk, tried=[0])  # the primary answered; the probe was never sent
    again = await fallback.plan(res, alice, scene_model=None, preset_id=preset, policy=policy)
    assert again[1].runnable and again[1].verdict.probe
