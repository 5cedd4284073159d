"""Group scenes in the embedded default (in-process queue and pub/sub): the characters' turns run
as background jobs after the person's message, stream their events, and stop at the turn limit,
at Stop, or at a new message; an End-to-End key is never used in the background."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import update

from rolecall.jobs import tasks
from rolecall.services import group_turns, jobs
from rolecall.services.connections import E2E_IN_BACKGROUND
from rolecall.storage.tables import JobRecord, utcnow
from tests.background_fixtures import settings  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.group.helpers import group_scene, listening, say, usage_rows
from tests.helpers import csrf_headers, make_client, sign_up, until
from tests.scene_helpers import Owner, character, e2e_config, patch, post, server_config


def _chats(fake) -> list:  # type: ignore[no-untyped-def]
    return [r for r in fake.requests if r.path.endswith("/chat/completions")]


async def test_after_a_message_the_characters_answer_in_turn_up_to_the_limit(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=2)
    fake_openai.reply.text = "Ale for everyone."
    async with listening(res, scene["id"]) as heard:
        said = await say(owner.client, scene["id"], "Evening, you two.")
        assert said["message"]["text"] == "Evening, you two." and said["job_id"]
        await res.queue.drain()
    ada, bram = scene["cast"]["Ada"], scene["cast"]["Bram"]
    assert [d["character_id"] for d in heard.of("turn_started")] == [ada, bram]
    assert [d["name"] for d in heard.of("turn_started")] == ["Ada", "Bram"]
    assert "".join(heard.of("delta")) == "Ale for everyone." * 2
    assert heard.names()[-1] == "stopped" and heard.of("stopped")[-1]["reason"] == group_turns.LIMIT_REACHED
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    assert [(m["role"], m["character_id"], m["status"]) for m in shown] == [
        ("user", None, "complete"), ("assistant", ada, "complete"), ("assistant", bram, "complete")]
    # Bram heard Ada's line as hers, not as his own words.
    assert _chats(fake_openai)[-1].json()["messages"][-1] == {"role": "user", "content": "Ada: Ale for everyone."}
    group = (await owner.client.get(f"/api/scenes/{scene['id']}/group")).json()
    assert group["running"] is False
    assert [(t["position"], t["job"]["status"]) for t in group["turns"]] == [(2, "done"), (1, "done")]
    assert len(_chats(fake_openai)) == 2


async def test_the_mention_rule_lets_the_named_character_answer_first(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, ("Ada", "Bram", "Cora"), section=config_id, rule="mention", turn_limit=1)
    await say(owner.client, scene["id"], "And you, cora? Bram said nothing yet.")
    await app.state.res.queue.drain()
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    assert [m["character_id"] for m in shown if m["role"] == "assistant"] == [scene["cast"]["Cora"]]


@contextlib.asynccontextmanager
async def _mid_turn(app, owner, fake, turn_limit: int, first: str) -> AsyncIterator[tuple]:  # type: ignore[no-untyped-def,type-arg]
    """A group scene whose first turn is streaming slowly: (scene, heard events, said)."""
    config_id = await server_config(owner, "openai", fake.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=turn_limit)
    fake.reply.text = "one two three four five six seven eight nine ten"
    fake.plan.chunk_delay = 0.2
    async with listening(app.state.res, scene["id"]) as heard:
        said = await say(owner.client, scene["id"], first)
        await until(lambda: _some(heard.of("delta")))
        yield scene, heard, said


async def _some(items: list) -> bool:  # type: ignore[type-arg]
    return bool(items)


async def _shown(owner: Owner, scene: dict) -> list:  # type: ignore[type-arg]
    return (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]  # type: ignore[no-any-return]


async def _interrupted(owner: Owner, scene: dict) -> bool:  # type: ignore[type-arg]
    return any(m["role"] == "assistant" and m["status"] == "interrupted" for m in await _shown(owner, scene))


async def test_stop_ends_the_turn_being_written_and_no_other_follows(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    async with _mid_turn(app, owner, fake_openai, 3, "Tell me a long story.") as (scene, heard, _):
        stopped = await post(owner.client, f"/api/scenes/{scene['id']}/group/stop", {})
        assert stopped.status_code == 200 and stopped.json()["running"] is False
        await app.state.res.queue.drain()
    replies = [m for m in await _shown(owner, scene) if m["role"] == "assistant"]
    assert len(replies) == 1 and replies[0]["status"] == "interrupted"
    assert replies[0]["text"] and replies[0]["text"] != fake_openai.reply.text
    assert len(heard.of("turn_started")) == 1 and heard.of("stopped")[0]["reason"] == group_turns.STOPPED
    assert len(_chats(fake_openai)) == 1


async def test_a_new_message_ends_the_running_round_and_starts_its_own(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    async with _mid_turn(app, owner, fake_openai, 1, "First.") as (scene, _, _):
        await say(owner.client, scene["id"], "Actually, wait.")
        # The fake's delay paces every stream it is sending: dropped before the running reply has
        # been ended, that reply could finish first (the stop goes through the pub/sub, Redis in CI).
        await until(lambda: _interrupted(owner, scene))
        fake_openai.plan.chunk_delay = 0.0
        await app.state.res.queue.drain()
    shown = await _shown(owner, scene)
    assert [(m["role"], m["status"]) for m in shown] == [
        ("user", "complete"), ("assistant", "interrupted"), ("user", "complete"), ("assistant", "complete")]
    assert shown[3]["text"] == fake_openai.reply.text


async def test_an_e2e_only_chain_tells_the_person_and_calls_no_upstream(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=2)
    notice = group_turns.E2E_NOTICE.format(name="Ada")
    async with listening(res, scene["id"]) as heard:
        said = await say(owner.client, scene["id"], "Anyone there?")
        await res.queue.drain()
    assert notice == ("Ada's model uses an end-to-end encrypted key, which background turns cannot use. "
                      "Add a Server-Accessible config for group chats.")
    assert heard.of("notice") == [{"character_id": scene["cast"]["Ada"], "text": notice,
                                   "link": group_turns.ADD_CONFIG_LINK}]
    assert heard.of("turn_failed")[0]["reason"] == notice
    job = (await owner.client.get(f"/api/jobs/{said['job_id']}")).json()
    assert (job["status"], job["error"]) == ("failed", notice)
    group = (await owner.client.get(f"/api/scenes/{scene['id']}/group")).json()
    assert group["running"] is False and group["turns"][0]["job"]["error"] == notice
    assert fake_openai.requests == []
    assert await usage_rows(app, owner.account_id) == [("skipped", "gpt-4o-mini", E2E_IN_BACKGROUND)]
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    assert [m["role"] for m in shown] == ["user"]


async def test_the_cast_can_grow_shrink_and_mute(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=2)
    base = f"/api/scenes/{scene['id']}"
    cora = await character(owner.client, "Cora", first_message="")
    added = await post(owner.client, f"{base}/cast", {"character_id": cora["id"]})
    assert added.status_code == 201 and [m["name"] for m in added.json()["cast"]] == ["Ada", "Bram", "Cora"]
    assert (await post(owner.client, f"{base}/cast", {"character_id": cora["id"]})).status_code == 409
    muted = await patch(owner.client, f"{base}/cast/{scene['cast']['Ada']}", {"muted": True})
    assert [m["muted"] for m in muted.json()["cast"]] == [True, False, False]
    unknown = await patch(owner.client, f"{base}/cast/{cora['id']}", {"preset_id": "nope"})
    assert unknown.status_code == 404
    await say(owner.client, scene["id"], "Who's awake?")
    await app.state.res.queue.drain()
    shown = (await owner.client.get(base)).json()["messages"]
    assert [m["character_id"] for m in shown if m["role"] == "assistant"] == [scene["cast"]["Bram"], cora["id"]]
    for name in ("Ada", "Bram"):
        removed = await owner.client.delete(f"{base}/cast/{scene['cast'][name]}",
                                            headers=(await csrf_headers(owner.client)))
        assert removed.status_code == 200
    last = await owner.client.delete(f"{base}/cast/{cora['id']}", headers=(await csrf_headers(owner.client)))
    assert last.status_code == 400
    assert (await patch(owner.client, f"{base}/group", {"rule": "loudest"})).status_code == 400
    assert (await patch(owner.client, f"{base}/group", {"turn_limit": 0})).status_code == 400
    # A solo scene has no auto-responders.
    solo = await post(owner.client, f"{base}/group/messages", {"text": "Hello?"})
    assert solo.status_code == 409
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get(f"{base}/group")).status_code == 404
        assert (await post(bob, f"{base}/group/messages", {"text": "hi"})).status_code == 404


async def test_a_turn_retried_after_its_partial_reply_replaces_it(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """What a dead worker leaves (a reply row mid-stream) is replaced by the retry, not kept beside it."""
    res = app.state.res
    async with _mid_turn(app, owner, fake_openai, 1, "Go on.") as (scene, _, said):
        pass
    # The worker "dies": its task is cancelled where it stands and its lease runs out.
    for task in list(res.queue._running):
        task.cancel()
    await asyncio.gather(*list(res.queue._running), return_exceptions=True)
    async with res.db.begin() as s:
        await s.execute(update(JobRecord).where(JobRecord.id == said["job_id"]).values(lease_until=utcnow()))
    fake_openai.plan.chunk_delay = 0.0
    await tasks.register_all(res.queue).tick(res)  # the sweeper delivers it again
    await res.queue.drain()
    assert [(m["role"], m["status"], m["text"]) for m in await _shown(owner, scene)] == [
        ("user", "complete", "Go on."), ("assistant", "complete", fake_openai.reply.text)]
    job = await jobs.get_any(res.db, said["job_id"])
    assert job is not None and (job.status, job.attempts) == ("done", 2) and "interrupted" in job.note
