"""Background passes use only Server-Accessible configs and the Premiere Theater: with the guide's
chain (an End-to-End primary, a Premiere fallback) the End-to-End model is skipped with a usage
row and the pass runs on the Premiere model, with the operator's key, debiting the balance."""

from __future__ import annotations

import httpx
import pytest

from rolecall.config import JobSettings, NetworkSettings, PremiereModel, PremiereSettings, PremiereUpstream
from rolecall.services import passes, token_balance, usage
from rolecall.services.connections import E2E_IN_BACKGROUND
from tests.fakes.server import VALID_KEY
from tests.jobs.pass_helpers import add_turns, scene_on
from tests.scene_helpers import Owner, e2e_config, post, set_up_owner


@pytest.fixture
def settings(make_settings, fake_openai):  # type: ignore[no-untyped-def]
    return make_settings(
        network=NetworkSettings(allow_private=["127.0.0.0/8"]),
        jobs=JobSettings(retry_delay=0, lease_seconds=30, tick_seconds=3600),
        premiere=PremiereSettings(
            upstreams=[PremiereUpstream(id="house", provider="custom_openai", base_url=fake_openai.base_url,
                                        api_key_env="HOUSE_KEY", allow_private=True)],
            models=[PremiereModel(id="house-llama", upstream="house", upstream_model="meta-llama/Llama-3.1-8B")],
            starting_grant=10_000, refill_every="never"))


@pytest.fixture
async def owner(alice: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> Owner:
    monkeypatch.setenv("HOUSE_KEY", VALID_KEY)
    return await set_up_owner(alice)


async def test_an_e2e_primary_is_skipped_and_the_premiere_fallback_summarizes(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    private = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    made = await post(owner.client, "/api/presets", {"name": "Guide chain", "is_default": True, "slots": [
        {"section": private, "model_id": "gpt-4o-mini"}, {"section": "premiere", "model_id": "house-llama"}]})
    assert made.status_code == 201, made.text
    scene = await scene_on(owner, private)
    await add_turns(res, owner.account_id, scene["id"], ["Evening.", "Evening to you."])
    fake_openai.requests.clear()
    fake_openai.reply.text = "They greeted each other."
    before = await token_balance.current(res.db, res.settings.premiere, owner.account_id)
    await passes.summarize_now(res, owner.account_id, scene["id"])
    await res.queue.drain()
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}/passes")).json()
    assert shown["passes"][0]["status"] == "done" and shown["summary"]["text"] == "They greeted each other."
    (sent,) = [r for r in fake_openai.requests if r.path.endswith("/chat/completions")]
    assert sent.json()["model"] == "meta-llama/Llama-3.1-8B"  # the Premiere model, never the E2E config's
    assert sent.headers["authorization"] == f"Bearer {VALID_KEY}"
    assert res.usage is not None
    await res.usage.flush()
    rows = (await usage.page(res.db, owner.account_id, usage.Filters())).rows
    assert sorted((r.section, r.outcome, r.reason) for r in rows) == sorted([
        (private, "skipped", E2E_IN_BACKGROUND), ("premiere", "ok", "")])
    assert await token_balance.current(res.db, res.settings.premiere, owner.account_id) < before
