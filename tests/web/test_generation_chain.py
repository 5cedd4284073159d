"""The fallback chain over HTTP: a failing primary, the reply from the backup, the attempts in the usage
log, and keys handed over for End-to-End fallback slots."""

from __future__ import annotations

from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.loopback_fixtures import settings  # noqa: F401
from tests.scene_helpers import Owner, e2e_config, only, post, reply_text, scene_with, server_config, stream

TEXT = "The lamp is lit and the sea is calm"




async def chain(owner: Owner, *sections: str) -> str:
    slots = [{"section": s, "model_id": m} for s, m in zip(sections, ("gpt-4o-mini", "llama-3.1-8b-instant"), strict=False)]
    made = await post(owner.client, "/api/presets", {"name": "Chain", "slots": slots, "is_default": True})
    assert made.status_code == 201, made.text
    return made.json()["id"]


async def test_a_failing_primary_falls_back_silently_and_the_usage_log_shows_both(app, owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.reply.text = TEXT
    primary = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    backup = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    preset_id = await chain(owner, primary, backup)
    scene = await scene_with(owner.client)  # no model of its own: the preset's chain
    fake_openai.fail_next(503, path="/chat/completions")
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Any ships tonight?"})
    assert [e.name for e in events][:3] == ["user", "skipped", "start"] and events[-1].name == "done"
    skipped = only(events, "skipped")
    assert skipped["position"] == 0 and skipped["kind"] == "unavailable" and skipped["model"] == "gpt-4o-mini"
    assert reply_text(events) == TEXT and only(events, "done")["model"]["model_id"] == "llama-3.1-8b-instant"
    await app.state.res.usage.flush()
    rows = (await owner.client.get("/api/usage")).json()["rows"]
    assert sorted((r["slot_position"], r["outcome"], r["error_kind"], r["preset_id"]) for r in rows) == [
        (0, "error", "unavailable", preset_id), (1, "ok", "", preset_id)]


async def test_keys_for_e2e_fallback_slots_are_handed_over_by_config(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.reply.text = TEXT
    primary = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    sealed = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    await chain(owner, primary, sealed)
    scene = await scene_with(owner.client)
    fake_openai.fail_next(429, path="/chat/completions")
    without = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Hello?"})
    assert [(e.data["position"], e.data["kind"]) for e in without if e.name == "skipped"] == [
        (0, "rate_limited"), (1, "key_unavailable")]
    fake_openai.fail_next(429, path="/chat/completions")
    handed = await stream(owner.client, f"/api/scenes/{scene['id']}/messages",
                          {"text": "Hello?", "keys": {sealed: {"api_key": VALID_KEY}}})
    assert reply_text(handed) == TEXT and only(handed, "done")["model"]["section"] == sealed


async def test_an_image_goes_with_the_message_and_is_checked(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.services.test_chain_images import PIXEL

    fake_openai.reply.text = TEXT
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id)  # gpt-4o-mini takes images
    path = f"/api/scenes/{scene['id']}/messages"
    events = await stream(owner.client, path, {"text": "Look", "image": {"media_type": "image/png", "data": PIXEL}})
    assert reply_text(events) == TEXT
    assert fake_openai.last.json()["messages"][-1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    bad = await post(owner.client, path, {"text": "Look", "image": {"media_type": "image/png", "data": "???"}})
    assert bad.status_code == 400 and bad.json()["field"] == "image.data"
