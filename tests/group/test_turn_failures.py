"""A group turn whose job fails for good for a reason other than a generation error ends its round
(issue 13, item 1): the panel stops saying turns are running and shows why."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import select, text, update

from rolecall.jobs import tasks
from rolecall.jobs.runner import FAILED
from rolecall.services import group_turns, jobs
from rolecall.storage.scene_tables import Message, MessageAlternative
from rolecall.storage.tables import JobRecord, utcnow
from tests.background_fixtures import settings  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.group.helpers import group_scene, listening, say
from tests.helpers import until
from tests.scene_helpers import Owner, e2e_config, server_config

REFUSE = {  # the database refuses every character's reply, as a full disk would
    "sqlite": ["CREATE TRIGGER refuse_replies BEFORE INSERT ON message WHEN NEW.role = 'assistant' "
               "BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
    "postgresql": ["CREATE FUNCTION refuse_reply() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ "
                   "LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse_replies BEFORE INSERT ON message FOR EACH ROW "
                   "WHEN (NEW.role = 'assistant') EXECUTE FUNCTION refuse_reply()"],
}
ALLOW = {"sqlite": ["DROP TRIGGER refuse_replies"],
         "postgresql": ["DROP TRIGGER refuse_replies ON message", "DROP FUNCTION refuse_reply()"]}


@contextlib.asynccontextmanager
async def _replies_refused(res) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    dialect = res.engine.dialect.name
    async with res.engine.begin() as conn:
        for statement in REFUSE[dialect]:
            await conn.execute(text(statement))
    try:
        yield
    finally:
        async with res.engine.begin() as conn:
            for statement in ALLOW[dialect]:
                await conn.execute(text(statement))


async def _group(owner: Owner, scene_id: str) -> dict:  # type: ignore[type-arg]
    return (await owner.client.get(f"/api/scenes/{scene_id}/group")).json()  # type: ignore[no-any-return]


async def test_a_turn_failing_outside_generation_after_its_retries_ends_the_round(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=2)
    async with _replies_refused(res), listening(res, scene["id"]) as heard:
        said = await say(owner.client, scene["id"], "Evening, you two.")
        await res.queue.drain()
    job = (await owner.client.get(f"/api/jobs/{said['job_id']}")).json()
    assert (job["status"], job["attempts"]) == ("failed", 3)
    assert job["error"].startswith(FAILED.split("{", 1)[0])
    group = await _group(owner, scene["id"])
    assert group["running"] is False
    assert group["turns"][0]["job"]["status"] == "failed"
    assert heard.of("stopped") == [{"reason": group_turns.GAVE_UP.format(reason=job["error"])}]
    assert "A turn could not be made" in heard.of("stopped")[0]["reason"]


async def test_a_turn_whose_worker_vanished_on_every_attempt_ends_the_round(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """The sweeper gives up on it; its reply, left streaming by the killed worker, is kept, interrupted."""
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=2)
    fake_openai.reply.text = "one two three four five six seven eight nine ten"
    fake_openai.plan.chunk_delay = 0.2
    async with listening(res, scene["id"]) as heard:
        said = await say(owner.client, scene["id"], "Tell me a long story.")

        async def streaming() -> bool:
            async with res.db() as s:
                return await s.scalar(select(MessageAlternative.status).join(Message).where(
                    Message.scene_id == scene["id"], Message.role == "assistant")) == "streaming"

        await until(streaming)
        for task in list(res.queue._running):  # the worker dies here, on its last attempt
            task.cancel()
        await res.queue.drain()
        async with res.db.begin() as s:  # killed outright: nothing was written on the way out
            await s.execute(update(MessageAlternative).where(MessageAlternative.message_id.in_(
                select(Message.id).where(Message.scene_id == scene["id"], Message.role == "assistant")))
                .values(status="streaming"))
            await s.execute(update(JobRecord).where(JobRecord.id == said["job_id"])
                            .values(attempts=JobRecord.max_attempts, lease_until=utcnow()))
        assert (await _group(owner, scene["id"]))["running"] is True
        await tasks.register_all(res.queue).tick(res)  # another worker's sweeper
    job = await jobs.get_any(res.db, said["job_id"])
    assert job is not None and (job.status, job.error) == ("failed", jobs.GAVE_UP.format(n=3))
    assert (await _group(owner, scene["id"]))["running"] is False
    assert heard.of("stopped") == [{"reason": group_turns.GAVE_UP.format(reason=job.error)}]
    shown = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    assert [(m["role"], m["status"]) for m in shown] == [("user", "complete"), ("assistant", "interrupted")]


async def test_a_generation_error_ends_the_round_once(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """The turn's own failure already ended the round: the job's failure says nothing more."""
    res = app.state.res
    config_id = await e2e_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=2)
    async with listening(res, scene["id"]) as heard:
        await say(owner.client, scene["id"], "Anyone there?")
        await res.queue.drain()
    notice = group_turns.E2E_NOTICE.format(name="Ada")
    assert heard.of("stopped") == [{"reason": notice}]
    assert (await _group(owner, scene["id"]))["running"] is False
