"""A scheduled regeneration with two real `rolecall worker` processes on a real Redis: it fires
once, writes one alternative, and the one-off schedule is gone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from rolecall.services import passes, schedules
from rolecall.storage.tables import JobRecord, JobSchedule, MessageAlternative, utcnow
from tests.fakes.server import VALID_KEY
from tests.helpers import until
from tests.jobs.pass_helpers import add_turns, scene_on
from tests.jobs.test_workers import settings  # noqa: F401
from tests.scene_helpers import server_config, set_up_owner


async def test_a_scheduled_regeneration_fires_once_across_two_workers(app, alice, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    owner = await set_up_owner(alice)
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    reply_id = (await add_turns(res, owner.account_id, scene["id"], ["Evening.", "Evening to you."]))[1]
    made = await passes.add_schedule(res, owner.account_id, kind="regenerate", scene_id=scene["id"],
                                     message_id=reply_id, run_at=utcnow() + timedelta(minutes=1))
    fake_openai.reply.text = "A fresh evening to you."
    fake_openai.requests.clear()
    spawn(), spawn()
    await asyncio.sleep(2)  # both workers up, ticking every 0.3 s
    async with res.db.begin() as s:  # its time comes while both watch
        (await s.get_one(JobSchedule, made.id)).next_run_at = utcnow()

    async def written() -> list[Any] | None:
        async with res.db() as s:
            rows = list(await s.scalars(select(JobRecord).where(JobRecord.name == passes.REGENERATE_JOB,
                                                                JobRecord.status == "done")))
        return rows or None

    (job,) = await until(written)
    await asyncio.sleep(1.5)  # later ticks of either worker had their chance to fire it again
    async with res.db() as s:
        jobs_made = list(await s.scalars(select(JobRecord).where(JobRecord.name == passes.REGENERATE_JOB)))
        alts = list(await s.scalars(select(MessageAlternative).where(MessageAlternative.message_id == reply_id)))
    assert len(jobs_made) == 1 and job.attempts == 1
    assert sorted((a.idx, a.origin, a.text) for a in alts) == [
        (0, None, "Evening to you."), (1, "scheduled", "A fresh evening to you.")]
    assert await schedules.get(res.db, made.id) is None
    assert sum(1 for r in fake_openai.requests if r.path.endswith("/chat/completions")) == 1
