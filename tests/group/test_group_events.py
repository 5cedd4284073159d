"""The scene's live events are kept (docs/group-scenes.md, "Live events"): a page that connects in
the middle of a turn sees the whole reply so far and then the rest, and a page that reconnects
with Last-Event-ID gets exactly what it missed. In-process here; across processes on Redis:
tests/jobs/test_group_workers.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from rolecall.config import Settings
from rolecall.services import scene_events
from rolecall.storage import pubsub
from rolecall.storage.pubsub import MemoryPubSub
from tests.background_fixtures import settings  # noqa: F401
from tests.group.helpers import WORDS, Frame, reply_text, streaming_scene, watch
from tests.helpers import serving, until


@pytest.fixture
def live(settings: Settings) -> Iterator[str]:
    with serving(settings) as url:
        yield url


def _done(frames: list[Frame]) -> bool:
    return any(f.name == "turn_done" for f in frames)


async def test_a_page_that_connects_mid_turn_sees_the_whole_reply(live: str, fake_openai) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=live) as client:
        scene = await streaming_scene(client, fake_openai)
        frames = await watch(client, scene["id"], _done)
    assert [f.name for f in frames][:2] == ["state", "turn_started"]
    assert frames[1].data["name"] == "Ada"
    assert reply_text(frames) == WORDS
    assert frames[-1].data["message"]["text"] == WORDS
    ids = [f.id for f in frames[1:]]
    assert all(ids) and len(set(ids)) == len(ids)


async def test_a_page_that_reconnects_gets_what_it_missed_once(live: str, fake_openai) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=live) as client:
        scene = await streaming_scene(client, fake_openai)
        first = await watch(client, scene["id"], lambda frames: sum(f.name == "delta" for f in frames) >= 3)
        last_id = first[-1].id
        assert last_id
        await until(lambda: _later(client, scene["id"]))  # more words were written while the page was away
        rest = await watch(client, scene["id"], _done, last_id=last_id)
    assert rest[0].name == "state" and "turn_started" not in [f.name for f in rest]
    assert reply_text(first) + reply_text(rest) == WORDS


async def _later(client: httpx.AsyncClient, scene_id: str) -> bool:
    shown = (await client.get(f"/api/scenes/{scene_id}")).json()["messages"]
    return any(m["role"] == "assistant" and m["status"] == "complete" for m in shown)


async def test_kept_events_are_bounded_and_a_finished_turn_expires() -> None:
    kept = MemoryPubSub()
    assert await kept.keep("scene:a", {"e": "delta", "d": "x"}, ttl=None) is None  # no turn started: dropped
    first = await kept.keep("scene:a", {"e": "turn_started", "d": {}}, ttl=scene_events.ACTIVE_TTL)
    assert first is not None
    for n in range(pubsub.KEPT_MAX + 10):
        await kept.keep("scene:a", {"e": "delta", "d": str(n)}, ttl=None)
    events, whole = await kept.kept("scene:a", first)
    assert len(events) == pubsub.KEPT_MAX and not whole  # the page's last event is gone: it starts over
    await kept.keep("scene:a", {"e": "turn_done", "d": {}}, ttl=0.0)
    assert await kept.kept("scene:a", None) == ([], True)
