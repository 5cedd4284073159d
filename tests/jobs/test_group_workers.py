"""Group turns in real `rolecall worker` processes on a real Redis: a worker killed mid-turn, workers
racing one turn, the turn's events crossing processes through Redis, and a page connecting mid-turn
reading the whole reply from the kept events (a Redis Stream)."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from rolecall.services import jobs, scene_events
from rolecall.services.jobs import JobView
from rolecall.storage import pubsub
from rolecall.storage.pubsub import RedisPubSub
from rolecall.storage.scene_tables import Message, MessageAlternative
from tests.conftest import REDIS_URL
from tests.fakes.server import VALID_KEY
from tests.group.helpers import WORDS, group_scene, listening, reply_text, say, streaming_scene, watch
from tests.helpers import serving, until
from tests.scene_helpers import server_config


@pytest.fixture
def settings(worker_settings):  # type: ignore[no-untyped-def]
    return worker_settings



def _chats(fake) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in fake.requests if r.path.endswith("/chat/completions"))


async def _finished(res, job_id: str) -> JobView | None:  # type: ignore[no-untyped-def]
    view = await jobs.get_any(res.db, job_id)
    return view if view is not None and view.status in ("done", "failed") else None


async def _replies(res, scene_id: str) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    async with res.db() as s:
        rows = await s.execute(select(Message.position, MessageAlternative.status, MessageAlternative.text)
                               .join(MessageAlternative, MessageAlternative.message_id == Message.id)
                               .where(Message.scene_id == scene_id, Message.role == "assistant"))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_worker_killed_mid_turn_leaves_one_complete_turn_after_the_retry(app, owner, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=1)
    fake_openai.reply.text = "one two three four five six seven eight nine ten eleven twelve"
    fake_openai.plan.chunk_delay = 0.3
    first = spawn()
    async with listening(res, scene["id"]) as heard:  # the worker's events arrive through Redis
        said = await say(owner.client, scene["id"], "Tell us everything.")

        async def streaming() -> bool:
            return bool(heard.of("delta")) and [s for _, s, _ in await _replies(res, scene["id"])] == ["streaming"]

        await until(streaming)
        first.send_signal(signal.SIGKILL)
        first.wait()
        fake_openai.plan.chunk_delay = 0.0
        spawn()
        done = await until(lambda: _finished(res, said["job_id"]))
        await until(lambda: _some(heard.of("stopped")))
    assert (done.status, done.attempts) == ("done", 2) and "interrupted" in done.note
    assert await _replies(res, scene["id"]) == [(1, "complete", fake_openai.reply.text)]
    assert heard.of("turn_started")[0]["name"] == "Ada" and heard.of("turn_done")
    assert _chats(fake_openai) == 2  # the dead worker's attempt and the retry


async def _some(items: list) -> bool:  # type: ignore[type-arg]
    return bool(items)


async def test_two_workers_racing_one_turn_write_it_once(app, owner, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await group_scene(owner.client, section=config_id, turn_limit=1)
    fake_openai.plan.chunk_delay = 0.05
    spawn(), spawn()
    await asyncio.sleep(3)  # both workers up and polling
    said = await say(owner.client, scene["id"], "Who answers?")
    for _ in range(4):  # four more deliveries of the same turn, with ids arq will not merge
        await jobs.deliver(res, said["job_id"], 0, again=True)
    done = await until(lambda: _finished(res, said["job_id"]))
    await asyncio.sleep(1)  # late deliveries have had their chance
    assert (done.status, done.attempts) == ("done", 1)
    assert [(p, s) for p, s, _ in await _replies(res, scene["id"])] == [(1, "complete")]
    assert _chats(fake_openai) == 1


async def test_pubsub_reaches_a_subscriber_of_another_process_on_the_same_redis(app) -> None:  # type: ignore[no-untyped-def]
    prefix = f"{app.state.res.settings.redis_prefix}:"
    other = RedisPubSub(REDIS_URL, prefix)  # what a second replica or a worker holds
    try:
        async with app.state.res.pubsub.subscribe("scene:x") as heard:
            await other.publish("scene:x", {"e": "delta", "d": "Hello"})
            await other.publish("scene:y", {"e": "delta", "d": "elsewhere"})
            await other.publish("scene:x", {"e": "stopped", "d": {"reason": "Stopped."}})
            got = [await asyncio.wait_for(anext(heard), 5), await asyncio.wait_for(anext(heard), 5)]
    finally:
        await other.close()
    assert got == [{"e": "delta", "d": "Hello"}, {"e": "stopped", "d": {"reason": "Stopped."}}]


async def test_a_page_connecting_mid_turn_sees_the_whole_reply_a_worker_writes(settings, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    spawn()  # the turn runs in this worker; the page reads the app's event stream, fed through Redis
    with serving(settings) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            scene = await streaming_scene(client, fake_openai)
            frames = await watch(client, scene["id"], lambda frames: any(f.name == "turn_done" for f in frames))
    assert [f.name for f in frames][:2] == ["state", "turn_started"]
    assert reply_text(frames) == WORDS
    kept = Redis.from_url(REDIS_URL)
    try:  # the finished turn's events go soon; a turn never holds more than KEPT_MAX of them
        key = f"{settings.redis_prefix}:kept:scene:{scene['id']}"
        assert 0 < await kept.ttl(key) <= scene_events.FINISHED_TTL
        assert 0 < await kept.xlen(key) <= pubsub.KEPT_MAX
    finally:
        await kept.aclose()
