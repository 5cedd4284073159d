"""A scene's live events, kept so that a page connecting late or reconnecting misses nothing
(docs/group-scenes.md, "Live events").

The turn jobs `publish` each event on the scene's kept channel (`storage/pubsub.py`: a Redis
Stream with REDIS_URL, a ring buffer in-process), where it gets an id. A page that reconnects
with the last id it saw (`Last-Event-ID`) gets every event after it, while that id is still kept;
a fresh page, or one away for longer than the channel keeps its events, gets the turn in progress:
its start, its notices, and its text so far as one chunk. Either way the page then follows the
channel from the last id read, so no event is missed or shown twice.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from rolecall.services.resources import Resources
from rolecall.storage.pubsub import Kept

ENDS = frozenset({"turn_done", "turn_failed", "stopped"})  # a turn is over: its events soon expire
ACTIVE_TTL = 3600.0  # a scene whose turn never finished (its worker died) drops its events after an hour
FINISHED_TTL = 120.0  # after a finished turn: long enough for a page to reconnect


def channel(scene_id: str) -> str:
    return f"scene:{scene_id}"


async def publish(res: Resources, scene_id: str, name: str, data: Any) -> str | None:
    # A chunk leaves the expiry its turn's start set: one Redis command per chunk, not two.
    ttl = None if name == "delta" else FINISHED_TTL if name in ENDS else ACTIVE_TTL
    return await res.pubsub.keep(channel(scene_id), {"e": name, "d": data}, ttl=ttl)


async def missed(res: Resources, scene_id: str, last_id: str | None) -> tuple[list[Kept], str | None]:
    """The events a connecting page needs before the live ones, and the id to follow from."""
    if last_id is not None:
        events, whole = await res.pubsub.kept(channel(scene_id), last_id)
        if whole:
            return events, events[-1][0] if events else last_id
    events, _ = await res.pubsub.kept(channel(scene_id), None)
    return in_progress(events), events[-1][0] if events else None


def follow(res: Resources, scene_id: str, after: str | None) -> AsyncGenerator[Kept, None]:
    return res.pubsub.follow(channel(scene_id), after)


def in_progress(events: list[Kept]) -> list[Kept]:
    """The events of the turn still being written (none when the last one ended), with each run of
    chunks joined into one that carries the id of its last chunk."""
    start = next((i for i in range(len(events) - 1, -1, -1) if events[i][1].get("e") == "turn_started"), None)
    if start is None or any(message.get("e") in ENDS for _, message in events[start:]):
        return []
    out: list[Kept] = []
    text: list[str] = []
    for event_id, message in events[start:]:
        if message.get("e") == "delta" and isinstance(message.get("d"), str):
            text.append(message["d"])
            last = event_id
            continue
        if text:
            out.append((last, {"e": "delta", "d": "".join(text)}))
            text = []
        out.append((event_id, message))
    if text:
        out.append((last, {"e": "delta", "d": "".join(text)}))
    return out
