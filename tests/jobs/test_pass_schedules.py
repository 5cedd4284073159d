"""The schedules API (create, list, cancel; other accounts get 404) and a one-off regeneration that
fires once, in the embedded default."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from rolecall.services import jobs, passes, schedules
from rolecall.storage.tables import JobRecord, JobSchedule, utcnow
from tests.background_fixtures import settings  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, make_client, sign_up
from tests.jobs.pass_helpers import add_turns, scene_on
from tests.scene_helpers import post, server_config


async def _scene_with_reply(app, owner, fake) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    reply_id = (await add_turns(app.state.res, owner.account_id, scene["id"], ["Evening.", "Evening to you."]))[1]
    return scene["id"], reply_id


async def test_create_list_and_cancel_schedules(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    scene_id, reply_id = await _scene_with_reply(app, owner, fake_openai)
    at = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    once = await post(owner.client, "/api/schedules", {"kind": "regenerate", "scene_id": scene_id,
                                                        "message_id": reply_id, "run_at": at.isoformat()})
    assert once.status_code == 201, once.text
    assert once.json()["repeats"] is False and datetime.fromisoformat(once.json()["next_run_at"]) == at
    nightly = await post(owner.client, "/api/schedules", {"kind": "summary", "scene_id": scene_id})
    assert nightly.status_code == 201, nightly.text
    assert nightly.json()["repeats"] is True and nightly.json()["daily_at"] == "03:00"
    assert nightly.json()["next_run_at"].endswith("T03:00:00+00:00")
    again = await post(owner.client, "/api/schedules", {"kind": "summary", "scene_id": scene_id, "daily_at": "04:00"})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    listed = (await owner.client.get("/api/schedules", params={"scene_id": scene_id})).json()["schedules"]
    assert [s["id"] for s in listed] == sorted([once.json()["id"], nightly.json()["id"]],
                                               key=lambda i: next(s["next_run_at"] for s in listed if s["id"] == i))
    assert {s["kind"] for s in (await owner.client.get(f"/api/scenes/{scene_id}/passes")).json()["schedules"]} == {
        "summary", "regenerate"}

    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get("/api/schedules")).json() == {"schedules": []}
        assert (await bob.get("/api/schedules", params={"scene_id": scene_id})).status_code == 404
        gone = await bob.delete(f"/api/schedules/{once.json()['id']}", headers=await csrf_headers(bob))
        assert gone.status_code == 404 and gone.json()["error"] == "No such schedule."
        theirs = await post(bob, "/api/schedules", {"kind": "summary", "scene_id": scene_id})
        assert theirs.status_code == 404
    deleted = await owner.client.delete(f"/api/schedules/{once.json()['id']}", headers=await csrf_headers(owner.client))
    assert deleted.status_code == 204
    assert [s["id"] for s in (await owner.client.get("/api/schedules")).json()["schedules"]] == [nightly.json()["id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"run_at": "2020-01-01T03:00:00+00:00"}, "run_at"),  # passed
    ({"run_at": "2099-01-01T03:00:00"}, "run_at"),  # no offset
    ({}, "run_at"),
    ({"kind": "summary", "daily_at": "25:00"}, "daily_at"),
])
async def test_bad_schedules_are_refused_with_the_field(app, owner, fake_openai, body, field) -> None:  # type: ignore[no-untyped-def]
    scene_id, reply_id = await _scene_with_reply(app, owner, fake_openai)
    response = await post(owner.client, "/api/schedules",
                          {"kind": "regenerate", "scene_id": scene_id, "message_id": reply_id, **body})
    assert response.status_code == 400 and response.json()["field"] == field, response.text


async def test_a_one_off_regeneration_fires_once_and_is_gone(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    scene_id, reply_id = await _scene_with_reply(app, owner, fake_openai)
    made = await passes.add_schedule(res, owner.account_id, kind="regenerate", scene_id=scene_id, message_id=reply_id,
                                     run_at=utcnow() + timedelta(minutes=1))
    async with res.db.begin() as s:  # its time has come
        (await s.get_one(JobSchedule, made.id)).next_run_at = utcnow() - timedelta(seconds=1)
    fake_openai.reply.text = "A fresh evening to you."
    fired = await asyncio.gather(*[schedules.claim_due(res.db, max_attempts=3) for _ in range(4)])
    assert sum(len(f) for f in fired) == 1
    assert await schedules.get(res.db, made.id) is None
    (job_id,) = [j for f in fired for j in f]
    await jobs.deliver(res, job_id, 0)
    await res.queue.drain()
    message = next(m for m in (await owner.client.get(f"/api/scenes/{scene_id}")).json()["messages"]
                   if m["id"] == reply_id)
    assert message["text"] == "A fresh evening to you."
    assert [a["origin"] for a in message["alternatives"]] == [None, "scheduled"]
    shown = (await owner.client.get(f"/api/scenes/{scene_id}/passes")).json()
    assert shown["schedules"] == [] and shown["passes"][0]["scheduled"] is True
    assert shown["passes"][0]["kind"] == "regenerate" and shown["passes"][0]["status"] == "done"
    async with res.db() as s:
        assert len(list(await s.scalars(select(JobRecord.id).where(JobRecord.name == passes.REGENERATE_JOB)))) == 1


async def test_a_nightly_summary_of_a_deleted_scene_fails_once_and_unschedules_itself(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    scene_id, reply_id = await _scene_with_reply(app, owner, fake_openai)
    nightly = await passes.add_schedule(res, owner.account_id, kind="summary", scene_id=scene_id)
    await passes.add_schedule(res, owner.account_id, kind="regenerate", scene_id=scene_id, message_id=reply_id,
                              run_at=utcnow() + timedelta(hours=2))
    assert (await owner.client.delete(f"/api/scenes/{scene_id}", headers=await csrf_headers(owner.client))).status_code == 204
    async with res.db.begin() as s:
        (await s.get_one(JobSchedule, nightly.id)).next_run_at = utcnow() - timedelta(seconds=1)
    (job_id,) = await schedules.claim_due(res.db, max_attempts=3)
    await jobs.deliver(res, job_id, 0)
    await res.queue.drain()
    failed = await jobs.get(res.db, owner.account_id, job_id)
    assert (failed.status, failed.error, failed.attempts) == ("failed", "No such scene.", 1)
    assert (await owner.client.get("/api/schedules")).json() == {"schedules": []}


async def test_the_schedules_api_is_in_openapi_with_the_one_error_shape(client) -> None:  # type: ignore[no-untyped-def]
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    create = paths["/api/schedules"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409", "422"} <= set(create)
    assert create["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    assert "404" in paths["/api/schedules/{schedule_id}"]["delete"]["responses"]
    assert set(paths["/api/scenes/{scene_id}/passes"]["get"]["responses"]) >= {"200", "401", "404"}
    assert "202" in paths["/api/scenes/{scene_id}/summary"]["post"]["responses"]
