"""Group turns walk the fallback chain in the background (docs/group-scenes.md): an End-to-End
config is skipped with a notice in the scene and a "skipped" usage row, and the next
Server-Accessible one answers; a character with its own preset speaks through its own chain.
(An End-to-End-only chain: tests/group/test_group_turns.py.)"""

from __future__ import annotations

from rolecall.services import group_turns, presets
from rolecall.services.presets import SlotInput
from tests.fakes.server import VALID_KEY
from tests.group.helpers import group_scene, listening, say, usage_rows
from tests.loopback_fixtures import settings  # noqa: F401
from tests.scene_helpers import character, e2e_config, only, patch, post, server_config, stream

BACKUP_MODEL = "llama-3.1-8b-instant"




def _models(fake) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.json()["model"] for r in fake.requests if r.path.endswith("/chat/completions")]


async def test_an_e2e_hop_is_skipped_and_the_next_server_accessible_one_answers(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    private = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    shared = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    await presets.create(res.db, res.settings, owner.account_id, name="Group-safe", slots=[SlotInput(shared, BACKUP_MODEL)])
    scene = await group_scene(owner.client, section=private, turn_limit=1)
    async with listening(res, scene["id"]) as heard:
        said = await say(owner.client, scene["id"], "Anyone?")
        await res.queue.drain()
    assert [n["text"] for n in heard.of("notice")] == [group_turns.E2E_NOTICE.format(name="Ada")]
    assert heard.of("turn_done") and not heard.of("turn_failed")
    job = (await owner.client.get(f"/api/jobs/{said['job_id']}")).json()
    assert job["status"] == "done" and job["result"]["notices"] == [group_turns.E2E_NOTICE.format(name="Ada")]
    assert [(o, m) for o, m, _ in await usage_rows(app, owner.account_id)] == [("skipped", "gpt-4o-mini"), ("ok", BACKUP_MODEL)]
    assert _models(fake_openai) == [BACKUP_MODEL]


async def test_a_character_with_its_own_preset_speaks_through_its_chain(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    await presets.create(res.db, res.settings, owner.account_id, name="Plain")  # the account's default: no slots
    own = await presets.create(res.db, res.settings, owner.account_id, name="Bram's",
                               slots=[SlotInput(config_id, BACKUP_MODEL)])
    scene = await group_scene(owner.client, section=config_id, turn_limit=2)
    chosen = await patch(owner.client, f"/api/scenes/{scene['id']}/cast/{scene['cast']['Bram']}", {"preset_id": own.id})
    assert chosen.status_code == 200 and chosen.json()["cast"][1]["preset_id"] == own.id
    await say(owner.client, scene["id"], "Evening.")
    await res.queue.drain()
    assert _models(fake_openai) == ["gpt-4o-mini", BACKUP_MODEL]  # Ada: the scene's model; Bram: his own
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    assert [m["model"]["model_id"] for m in shown if m["role"] == "assistant"] == ["gpt-4o-mini", BACKUP_MODEL]


async def test_regenerate_and_continue_speak_as_the_replys_author(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    await presets.create(res.db, res.settings, owner.account_id, name="Plain")
    own = await presets.create(res.db, res.settings, owner.account_id, name="Bob's",
                               slots=[SlotInput(config_id, BACKUP_MODEL)])
    ada = await character(owner.client, "Ada", persona="A chemist who speaks in formulas.", first_message="")
    bob = await character(owner.client, "Bob", persona="A sailor who sings every answer.", first_message="")
    scene = (await post(owner.client, "/api/scenes", {"character_ids": [ada["id"], bob["id"]]})).json()
    await patch(owner.client, f"/api/scenes/{scene['id']}", {"model": {"section": config_id, "model_id": "gpt-4o-mini"}})
    await patch(owner.client, f"/api/scenes/{scene['id']}/group", {"turn_limit": 2})
    await patch(owner.client, f"/api/scenes/{scene['id']}/cast/{bob['id']}", {"preset_id": own.id})
    await say(owner.client, scene["id"], "Evening.")
    await res.queue.drain()
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    bobs = next(m for m in shown if m["character_id"] == bob["id"])
    fake_openai.requests.clear()
    for action in ("regenerate", "continue"):
        events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages/{bobs['id']}/{action}")
        assert only(events, "done")["character_id"] == bob["id"]
    for request in [r.json() for r in fake_openai.requests if r.path.endswith("/chat/completions")]:
        assert request["model"] == BACKUP_MODEL  # Bob's own preset, not the scene's model
        system = request["messages"][0]["content"]
        assert "A sailor who sings every answer." in system and "formulas" not in system
        # Ada's line reaches Bob as hers, not as his own words.
        assert {"role": "user", "content": f"Ada: {fake_openai.reply.text}"} in request["messages"]
    assert len(fake_openai.requests) == 2
