"""Post-production passes run as jobs on the embedded queue against the fake upstream: the summary
(stored, shown, used to shorten a long history), polish (a new alternative, once even after a
retry), failures with their reason, and an End-to-End chain that fails without an upstream call."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select

from rolecall.jobs import tasks
from rolecall.jobs.runner import Runner
from rolecall.services import jobs, pass_jobs, passes, usage
from rolecall.services.connections import E2E_IN_BACKGROUND
from rolecall.services.generation_errors import GENERATION_TEXTS
from rolecall.services.prompt import SUMMARY_HEADING
from rolecall.storage.scene_tables import Message
from rolecall.storage.tables import JobRecord, MessageAlternative, utcnow
from tests.background_fixtures import settings  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import make_client, sign_up, until
from tests.jobs.pass_helpers import TINY, add_turns, scene_on, small_window_config
from tests.scene_helpers import e2e_config, post, scene_with, server_config, stream

TURNS = [f"Turn {i:02d}: " + "the lamp flickers and the sea keeps on at the rocks below the tower " * 2
         for i in range(12)]




async def _passes(client: httpx.AsyncClient, scene_id: str) -> dict:  # type: ignore[type-arg]
    response = await client.get(f"/api/scenes/{scene_id}/passes")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_the_summary_is_stored_shown_and_replaces_the_turns_that_no_longer_fit(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await small_window_config(res, owner, fake_openai)
    scene = await scene_on(owner, config_id, TINY)
    await add_turns(res, owner.account_id, scene["id"], TURNS)
    fake_openai.reply.text = "SUMMARY: Mira kept the lamp lit through the storm."
    started = await post(owner.client, f"/api/scenes/{scene['id']}/summary", {})
    assert started.status_code == 202 and started.json()["status"] == "queued"
    await res.queue.drain()
    asked = fake_openai.last.json()
    assert asked["messages"][0]["content"] == pass_jobs.SUMMARIZER and "New turns:" in asked["messages"][1]["content"]
    assert "Turn 00" in asked["messages"][1]["content"]
    shown = await _passes(owner.client, scene["id"])
    assert shown["passes"][0]["kind"] == "summary" and shown["passes"][0]["status"] == "done"
    summary = shown["summary"]
    assert summary["text"] == "SUMMARY: Mira kept the lamp lit through the storm." and summary["covered"] >= 6

    fake_openai.reply.text = "Aye."
    await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "What happened tonight?"})
    sent = fake_openai.last.json()["messages"]
    system = sent[0]["content"]
    assert SUMMARY_HEADING in system and "SUMMARY: Mira kept the lamp lit" in system
    everything = "\n".join(m["content"] for m in sent)
    assert "Turn 00" not in everything and "Turn 01" not in everything  # dropped, the summary stands in
    assert "Turn 11" in everything and sent[-1]["content"] == "What happened tonight?"


async def test_a_scene_that_fits_is_sent_without_its_summary(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    await add_turns(res, owner.account_id, scene["id"], TURNS[:2])
    fake_openai.reply.text = "SUMMARY: short."
    await passes.summarize_now(res, owner.account_id, scene["id"])
    await res.queue.drain()
    fake_openai.reply.text = "Aye."
    await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "And then?"})
    assert "SUMMARY: short." not in fake_openai.last.json()["messages"][0]["content"]


async def test_polish_adds_a_polished_alternative_and_a_retry_does_not_add_another(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    reply_id = (await add_turns(res, owner.account_id, scene["id"], ["Hello?", "wat do u want, its late"]))[1]
    fake_openai.reply.text = "What do you want? It's late."
    started = await post(owner.client, f"/api/scenes/{scene['id']}/messages/{reply_id}/polish", {})
    assert started.status_code == 202
    await res.queue.drain()
    asked = fake_openai.last.json()["messages"]
    assert asked[0]["content"].startswith(pass_jobs.EDITOR) and asked[1]["content"] == "wat do u want, its late"
    message = next(m for m in (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
                   if m["id"] == reply_id)
    assert message["text"] == "What do you want? It's late." and message["active"] == 1
    assert [(a["text"], a["origin"]) for a in message["alternatives"]] == [
        ("wat do u want, its late", None), ("What do you want? It's late.", "polish")]
    assert (await _passes(owner.client, scene["id"]))["passes"][0]["status"] == "done"

    # A worker wrote the polished text and died before recording the job as done: the retry
    # finds the alternative it wrote instead of adding a second one.
    job_id, _ = await jobs.record(res.db, passes.POLISH_JOB, {"account_id": owner.account_id, "scene_id": scene["id"],
                                  "message_id": reply_id}, account_id=owner.account_id, key=None, max_attempts=3)
    assert await jobs.claim(res.db, job_id, "dead-worker", lease_seconds=30)
    async with jobs.running(res.db, jobs.Lease(job_id, "dead-worker")):
        assert await pass_jobs.polish(res, owner.account_id, scene["id"], reply_id) == {"alternative": 2}
    async with res.db.begin() as s:
        (await s.get_one(JobRecord, job_id)).lease_until = utcnow() - timedelta(seconds=1)
    await Runner(tasks.JOBS).tick(res)
    await res.queue.drain()
    view = await jobs.get_any(res.db, job_id)
    assert view is not None and (view.status, view.attempts, view.result) == ("done", 2, {"alternative": 2})
    async with res.db() as s:
        alts = list(await s.scalars(select(MessageAlternative.idx).where(MessageAlternative.message_id == reply_id)))
    assert sorted(alts) == [0, 1, 2]


async def test_a_failed_pass_shows_its_reason(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    unset = await scene_with(owner.client)  # no model chosen
    await add_turns(res, owner.account_id, unset["id"], TURNS[:2])
    await passes.summarize_now(res, owner.account_id, unset["id"])
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    reply_id = (await add_turns(res, owner.account_id, scene["id"], TURNS[:2]))[1]
    fake_openai.fail_next(400, path="/chat/completions")
    await passes.polish_now(res, owner.account_id, scene["id"], reply_id)
    await res.queue.drain()
    failed = (await _passes(owner.client, unset["id"]))["passes"][0]
    assert (failed["status"], failed["error"], failed["attempts"]) == ("failed", GENERATION_TEXTS["no_model"], 1)
    refused = (await _passes(owner.client, scene["id"]))["passes"][0]
    assert refused["kind"] == "polish" and refused["status"] == "failed" and refused["error"]
    assert (await owner.client.get(f"/api/jobs/{refused['job_id']}")).json()["error"] == refused["error"]


async def test_an_e2e_only_chain_fails_with_the_message_and_no_upstream_call(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    reply_id = (await add_turns(res, owner.account_id, scene["id"], TURNS[:2]))[1]
    fake_openai.requests.clear()
    await passes.summarize_now(res, owner.account_id, scene["id"])
    await passes.polish_now(res, owner.account_id, scene["id"], reply_id)
    await res.queue.drain()
    for shown in (await _passes(owner.client, scene["id"]))["passes"]:
        assert (shown["status"], shown["error"], shown["attempts"]) == ("failed", E2E_IN_BACKGROUND, 1)
    assert fake_openai.requests == []
    assert res.usage is not None
    await res.usage.flush()
    rows = (await usage.page(res.db, owner.account_id, usage.Filters())).rows
    assert [(r.outcome, r.reason) for r in rows] == [("skipped", E2E_IN_BACKGROUND)] * 2


async def test_another_accounts_scene_answers_404(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    reply_id = (await add_turns(app.state.res, owner.account_id, scene["id"], TURNS[:2]))[1]
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get(f"/api/scenes/{scene['id']}/passes")).status_code == 404
        assert (await post(bob, f"/api/scenes/{scene['id']}/summary", {})).status_code == 404
        assert (await post(bob, f"/api/scenes/{scene['id']}/messages/{reply_id}/polish", {})).status_code == 404


async def test_an_outage_is_retried_with_its_reason_and_then_succeeds(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    await add_turns(res, owner.account_id, scene["id"], TURNS[:2])
    fake_openai.fail_next(503, path="/chat/completions")
    fake_openai.reply.text = "SUMMARY: after the outage."
    started = await passes.summarize_now(res, owner.account_id, scene["id"])
    await res.queue.drain()
    view = await jobs.get(res.db, owner.account_id, started.job_id)
    assert (view.status, view.attempts) == ("done", 2)
    assert (await passes.summary_of(res.db, owner.account_id, scene["id"])).text == "SUMMARY: after the outage."  # type: ignore[union-attr]


async def test_polish_of_a_reply_still_being_written_is_refused(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    fake_openai.reply.text = "one two three four five six seven eight nine ten"
    fake_openai.plan.chunk_delay = 0.2
    sending = asyncio.create_task(stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Go on."}))

    async def streaming_reply() -> str | None:
        async with res.db() as s:
            return await s.scalar(select(Message.id).join(MessageAlternative).where(
                Message.scene_id == scene["id"], MessageAlternative.status == "streaming"))

    reply_id = await until(streaming_reply)
    polish = f"/api/scenes/{scene['id']}/messages/{reply_id}/polish"
    refused = await post(owner.client, polish, {})
    assert refused.status_code == 409
    error = refused.json()
    assert (error["ok"], error["code"], error["error"], error["field"]) == (False, "conflict", passes.STILL_WRITING,
                                                                          "message_id")
    assert (await _passes(owner.client, scene["id"]))["passes"] == []
    await sending
    started = await post(owner.client, polish, {})
    assert started.status_code == 202, started.text
