"""The OpenAI-compatible API over presets and the Premiere Theater, driven by the official `openai`
SDK: a preset's chain falls back before the first token, `premiere/<model>` answers and debits the
balance, `/v1/models` lists both, and every attempt is in the usage log."""

from __future__ import annotations

import openai
import pytest

from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.helpers import csrf_headers
from tests.services.chain_helpers import HOUSE_MODEL, chain_settings, house_key  # noqa: F401
from tests.web.openai_api_helpers import add_e2e_config, add_server_config, alice, bob, new_token, post, sdk  # noqa: F401

HISTORY = [{"role": "user", "content": "Hello?"}]


@pytest.fixture
def settings(make_settings, fake_openai):  # type: ignore[no-untyped-def]
    return chain_settings(make_settings, fake_openai)


async def usage_rows(app, who) -> list[tuple[int | None, str, str, str]]:  # type: ignore[no-untyped-def]
    await app.state.res.usage.flush()
    rows = (await who.client.get("/api/usage")).json()["rows"]
    return sorted((r["slot_position"], r["outcome"], r["error_kind"], r["config_label"]) for r in rows)


async def preset(who, name: str, slots: list[tuple[str, str]], **extra) -> str:  # type: ignore[no-untyped-def]
    made = await post(who.client, "/api/presets", {"name": name, "slots": [{"section": s, "model_id": m} for s, m in slots],
                                                   **extra})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_models_lists_premiere_models_and_presets(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    work = await add_server_config(alice, "Work", fake_openai)
    await preset(alice, "Daily", [(work, "gpt-4o-mini")])
    ids = [m.id async for m in sdk(app, await new_token(alice)).models.list()]
    assert f"premiere/{HOUSE_MODEL}" in ids and "preset:Daily" in ids and "Work/gpt-4o-mini" in ids


async def test_a_preset_walks_its_chain_and_applies_its_samplers(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    work = await add_server_config(alice, "Work", fake_openai)
    backup = await add_server_config(alice, "Backup", fake_openai)
    preset_id = await preset(alice, "Daily", [(work, "gpt-4o-mini"), (backup, "llama-3.1-8b-instant")],
                             settings={"temperature": 0.2, "presence_penalty": 0.4})
    client = sdk(app, await new_token(alice))
    for stream in (False, True):
        fake_openai.fail_next(503, path="/chat/completions")
        if stream:
            chunks = [c async for c in await client.chat.completions.create(model="preset:daily", messages=HISTORY,
                                                                            stream=True)]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert {c.model for c in chunks} == {"Backup/llama-3.1-8b-instant"}
        else:
            answer = await client.chat.completions.create(model="preset:Daily", messages=HISTORY, temperature=0.9)
            text = answer.choices[0].message.content or ""
            assert answer.model == "Backup/llama-3.1-8b-instant"
            assert fake_openai.last.json()["temperature"] == 0.9  # the caller's own setting wins
        assert text == fake_openai.reply.text
    assert fake_openai.last.json()["temperature"] == 0.2 and fake_openai.last.json()["presence_penalty"] == 0.4
    assert await usage_rows(app, alice) == [(0, "error", "unavailable", "Work")] * 2 + [(1, "ok", "", "Backup")] * 2
    rows = (await alice.client.get("/api/usage")).json()["rows"]
    assert {r["preset_id"] for r in rows} == {preset_id} and {r["scene_id"] for r in rows} == {None}


async def test_a_preset_name_reaches_its_own_accounts_preset_only_and_edits_apply_at_once(app, alice, bob, fake_openai) -> None:  # type: ignore[no-untyped-def]
    theirs = await add_server_config(bob, "Theirs", fake_openai)
    await preset(bob, "Shared", [(theirs, "bob-model")])
    client = sdk(app, await new_token(alice))
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="preset:Shared", messages=HISTORY)
    work = await add_server_config(alice, "Work", fake_openai)
    mine = await preset(alice, "shared", [(work, "alice-model")])
    answer = await client.chat.completions.create(model="preset:Shared", messages=HISTORY)
    assert answer.model == "Work/alice-model" and fake_openai.last.json()["model"] == "alice-model"
    edited = await alice.client.patch(f"/api/presets/{mine}", json={"slots": [{"section": work, "model_id": "other-model"}]},
                                      headers=await csrf_headers(alice.client))
    assert edited.status_code == 200, edited.text
    answer = await client.chat.completions.create(model="preset:shared", messages=HISTORY)
    assert answer.model == "Work/other-model" and fake_openai.last.json()["model"] == "other-model"


async def test_a_preset_skips_e2e_slots_the_server_cannot_open(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    sealed = await add_e2e_config(alice, "Private", fake_openai)
    work = await add_server_config(alice, "Work", fake_openai)
    await preset(alice, "Mixed", [(sealed, "gpt-4o-mini"), (work, "llama-3.1-8b-instant")])
    await preset(alice, "Sealed", [(sealed, "gpt-4o-mini")])
    client = sdk(app, await new_token(alice))
    answer = await client.chat.completions.create(model="preset:Mixed", messages=HISTORY)
    assert answer.model == "Work/llama-3.1-8b-instant"
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="preset:Sealed", messages=HISTORY)
    assert "end-to-end encrypted" in caught.value.message
    assert (0, "skipped", "key_unavailable", "Private") in await usage_rows(app, alice)


async def test_premiere_answers_through_the_api_and_debits_the_balance(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = sdk(app, await new_token(alice))
    before = (await alice.client.get("/api/token-balance")).json()["balance"]
    answer = await client.chat.completions.create(model=f"premiere/{HOUSE_MODEL}", messages=HISTORY)
    assert answer.model == f"premiere/{HOUSE_MODEL}" and answer.choices[0].message.content == fake_openai.reply.text
    assert fake_openai.last.json()["model"] == "house/llama-3.1-70b"
    chunks = [c async for c in await client.chat.completions.create(model=f"premiere/{HOUSE_MODEL}", messages=HISTORY,
                                                                    stream=True, stream_options={"include_usage": True})]
    assert chunks[-1].usage.total_tokens == 21
    assert (await alice.client.get("/api/token-balance")).json()["balance"] == before - 2 * 21
    rows = (await alice.client.get("/api/usage")).json()["rows"] if await usage_rows(app, alice) else []
    assert [(r["outcome"], r["premiere_tokens"], r["config_label"]) for r in rows] == [("ok", 21, "Premiere Theater")] * 2
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="premiere/not-offered", messages=HISTORY)
