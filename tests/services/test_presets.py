"""Presets: settings checked, the guide's fallback chain, broken slots after a config is deleted."""

from __future__ import annotations

import pytest

from rolecall.config import PremiereModel, PremiereSettings, PremiereUpstream
from rolecall.services import presets, provider_configs
from rolecall.services.errors import Conflict, Invalid, NotFound
from rolecall.services.presets import SlotInput
from rolecall.storage.tables import Scene
from tests.factories import add_provider_config, e2e_record
from tests.services.conftest import add_account

PREMIERE = PremiereSettings(upstreams=[PremiereUpstream(id="house", provider="openrouter", api_key_env="HOUSE_KEY")],
                            models=[PremiereModel(id="house-llama", upstream="house")])


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(premiere=PREMIERE)


async def guide_example(res):  # type: ignore[no-untyped-def]
    """The guide's chain: direct Anthropic (E2E), OpenRouter on the same family (Server-Accessible), Premiere."""
    alice = await add_account(res, "alice")
    _, udk = e2e_record(alice)
    anthropic = await add_provider_config(res.db, alice, mode="e2e", udk=udk, provider_id="anthropic",
                                          origin="https://api.anthropic.com", label="Anthropic personal")
    router = await add_provider_config(res.db, alice, mode="srv", ring=res.keyring, provider_id="openrouter",
                                       origin="https://openrouter.ai", label="OpenRouter fallback (group-safe)")
    preset = await presets.create(res.db, res.settings, alice, name="Claude first", values={"temperature": 0.9, "stop": ["\nUser:"]},
                                  system_prompt="You are {{char}}, talking with {{user}}.", slots=[
                                      SlotInput(anthropic.id, "claude-sonnet-4-5"),
                                      SlotInput(router.id, "anthropic/claude-sonnet-4.5"),
                                      SlotInput("premiere", "house-llama")])
    return alice, anthropic, router, preset


async def test_the_guides_fallback_chain_is_expressible(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_example(res)
    chain = await presets.chain(res.db, alice, preset.id)
    assert [(s.position, s.kind, s.label, s.privacy_mode, s.model_id) for s in chain] == [
        (0, "config", "Anthropic personal", "e2e", "claude-sonnet-4-5"),
        (1, "config", "OpenRouter fallback (group-safe)", "srv", "anthropic/claude-sonnet-4.5"),
        (2, "premiere", "Premiere Theater", None, "house-llama"),
    ]
    assert [s.provider_name for s in chain] == ["Anthropic", "OpenRouter", "Premiere Theater"]
    assert preset.is_default and preset.settings == {"temperature": 0.9, "stop": ["\nUser:"]}
    assert presets.render_prompt(preset.system_prompt, {"char": "Mira", "user": "Ada"}) == "You are Mira, talking with Ada."


async def test_reorder_remove_and_add_replace_the_chain(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_example(res)
    changed = await presets.update_preset(res.db, res.settings, alice, preset.id, {"slots": [
        SlotInput("premiere", "house-llama"), SlotInput(router.id, "openai/gpt-4o")]})
    assert [(s.section, s.model_id) for s in changed.slots] == [("premiere", "house-llama"), (router.id, "openai/gpt-4o")]


async def test_deleting_a_config_leaves_its_slot_marked_broken(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_example(res)
    await provider_configs.delete(res.db, alice, router.id)
    chain = await presets.chain(res.db, alice, preset.id)
    assert [s.broken for s in chain] == [False, True, False]
    assert chain[1].label == "OpenRouter fallback (group-safe)" and chain[1].config_id is None
    assert chain[1].reason == "The provider config of this slot was deleted; pick another model."


async def test_settings_are_checked(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    bad = [({"temperature": 2.5}, "between 0 and 2"), ({"top_k": 1.5}, "whole number"), ({"seed": 1}, "Unknown setting"),
           ({"min_p": "high"}, "must be a number"), ({"stop": "\n"}, "list of text")]
    for values, message in bad:
        with pytest.raises(Invalid, match=message):
            await presets.create(res.db, res.settings, alice, name="x", values=values)
    with pytest.raises(Invalid, match=r"Unknown placeholder \{\{chr\}\}"):
        await presets.create(res.db, res.settings, alice, name="x", system_prompt="You are {{chr}}")
    with pytest.raises(Invalid, match="does not offer"):
        await presets.create(res.db, res.settings, alice, name="x", slots=[SlotInput("premiere", "gpt-9")])
    good = {"temperature": 1, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "max_tokens": 800, "repetition_penalty": 1.1,
            "presence_penalty": -0.5, "frequency_penalty": 0.25, "stop": ["###", ""]}
    made = await presets.create(res.db, res.settings, alice, name="All knobs", values=good)
    assert made.settings == {**good, "temperature": 1.0, "stop": ["###"]}
    with pytest.raises(Conflict):
        await presets.create(res.db, res.settings, alice, name="all KNOBS")


async def test_other_accounts_presets_and_configs_are_not_found(res) -> None:  # type: ignore[no-untyped-def]
    alice, anthropic, router, preset = await guide_example(res)
    bob = await add_account(res, "bob")
    with pytest.raises(NotFound):
        await presets.chain(res.db, bob, preset.id)
    with pytest.raises(NotFound):
        await presets.update_preset(res.db, res.settings, bob, preset.id, {"name": "mine"})
    with pytest.raises(NotFound):  # bob cannot put alice's config into his own chain
        await presets.create(res.db, res.settings, bob, name="sneaky", slots=[SlotInput(router.id, "x")])
    assert await presets.list_presets(res.db, bob) == []


async def test_a_scene_uses_its_preset_else_the_default(res) -> None:  # type: ignore[no-untyped-def]
    alice, _, _, first = await guide_example(res)
    second = await presets.create(res.db, res.settings, alice, name="Short replies", values={"max_tokens": 200})
    async with res.db.begin() as s:
        s.add(Scene(id="s" * 24, account_id=alice, title="Harbor"))
    assert await presets.scene_preset_id(res.db, alice, "s" * 24) == first.id
    await presets.set_scene_preset(res.db, alice, "s" * 24, second.id)
    assert await presets.scene_preset_id(res.db, alice, "s" * 24) == second.id
    await presets.delete_preset(res.db, alice, first.id)  # the default goes: the oldest left takes over
    assert (await presets.get_preset(res.db, alice, second.id)).is_default
