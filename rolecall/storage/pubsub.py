"""Publish/subscribe for live events: Redis when REDIS_URL is set, in-process otherwise.

Two kinds of channel. *Published* messages (`publish`/`subscribe`, Redis pub/sub) reach only the
subscribers listening at that moment, at most once: a stop signal to a running turn. *Kept*
events (`keep`/`kept`/`follow`, a Redis Stream or an in-process ring buffer) carry ids, so a page
that connects late or reconnects reads what it missed and then follows from the last id, without
gaps or duplicates. A channel keeps at most ``KEPT_MAX`` events (the oldest go) and expires
``ttl`` seconds after the last event kept with one; an event kept with ``ttl=None`` (a chunk: one
round trip, no expiry to set) leaves the expiry as it is, and is dropped when the channel is gone.
The database stays the record, this is only for watching.

```python
async with pubsub.subscribe("scene:abc:control") as messages:
    async for message in messages:   # dicts, in publishing order
        ...
await pubsub.publish("scene:abc:control", {"stop": "Stopped."})

event_id = await pubsub.keep("scene:abc", {"e": "turn_started", "d": {...}}, ttl=3600)
events, whole = await pubsub.kept("scene:abc", after=None)   # [(id, dict)], oldest first
async for event_id, message in pubsub.follow("scene:abc", after=events[-1][0]):
    ...
```
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

import redis.asyncio as redis

QUEUE_SIZE = 1000  # a subscriber this far behind loses the oldest events, not the publisher's time
KEPT_MAX = 5000  # kept events per channel: a turn of more chunks than this loses its first ones
FOLLOW_WAIT = 5.0  # seconds one wait for new kept events blocks before it looks again

Kept = tuple[str, dict[str, Any]]


class PubSub(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...
    async def keep(self, channel: str, message: dict[str, Any], *, ttl: float | None) -> str | None: ...
    async def kept(self, channel: str, after: str | None) -> tuple[list[Kept], bool]: ...
    def follow(self, channel: str, after: str | None) -> AsyncGenerator[Kept, None]: ...
    async def close(self) -> None: ...


class _Ring:
    """One channel's kept events in this process."""

    def __init__(self) -> None:
        self.events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=KEPT_MAX)
        self.expires = 0.0
        self.added = asyncio.Event()
        self.followers = 0


class MemoryPubSub:
    """One process: every subscriber of a channel has its own bounded queue."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._rings: dict[str, _Ring] = {}
        self._ids = itertools.count(1)  # one sequence for all channels: a channel made again never reuses an id
        self._swept = 0.0

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(channel, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers[channel].add(queue)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            self._subscribers[channel].discard(queue)
            if not self._subscribers[channel]:
                del self._subscribers[channel]

    async def keep(self, channel: str, message: dict[str, Any], *, ttl: float | None) -> str | None:
        now = time.monotonic()
        if now - self._swept > 1.0:
            self._sweep(now)
        ring = self._rings.get(channel)
        if ttl is None and (ring is None or ring.expires < now):
            return None
        if ring is None:
            ring = self._rings[channel] = _Ring()
        number = next(self._ids)
        ring.events.append((number, message))
        if ttl is not None:
            ring.expires = now + ttl
        ring.added.set()
        ring.added = asyncio.Event()
        return str(number)

    def _sweep(self, now: float) -> None:
        self._swept = now
        for channel, ring in list(self._rings.items()):
            if ring.expires < now:
                ring.events.clear()
                if not ring.followers:
                    del self._rings[channel]

    async def kept(self, channel: str, after: str | None) -> tuple[list[Kept], bool]:
        ring = self._rings.get(channel)
        events = list(ring.events) if ring is not None and ring.expires >= time.monotonic() else []
        if after is None:
            return [(str(n), m) for n, m in events], True
        last = _number(after)
        whole = bool(events) and events[0][0] <= last
        return [(str(n), m) for n, m in _after(events, last)], whole

    async def follow(self, channel: str, after: str | None) -> AsyncGenerator[Kept, None]:
        ring = self._rings.setdefault(channel, _Ring())
        ring.followers += 1
        last = _number(after) if after is not None else 0
        try:
            while True:
                fresh = _after(ring.events, last)
                for number, message in fresh:
                    last = number
                    yield str(number), message
                if not fresh:
                    added = ring.added
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(added.wait(), FOLLOW_WAIT)
        finally:
            ring.followers -= 1

    async def close(self) -> None:
        self._subscribers.clear()
        self._rings.clear()


def _after(events: deque[tuple[int, dict[str, Any]]] | list[tuple[int, dict[str, Any]]], last: int
           ) -> list[tuple[int, dict[str, Any]]]:
    """The events numbered after ``last``, read from the newest end: a follower woken per chunk does
    not walk the whole buffer."""
    fresh = []
    for number, message in reversed(events):
        if number <= last:
            break
        fresh.append((number, message))
    fresh.reverse()
    return fresh


def _number(event_id: str) -> int:
    try:
        return int(event_id)
    except ValueError:  # an id from another store (a Redis stream's): older than anything kept here
        return 0


class RedisPubSub:
    """Redis PUBLISH/SUBSCRIBE: a worker on any machine reaches every serving replica."""

    def __init__(self, url: str, prefix: str = "rolecall:") -> None:
        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(message, separators=(",", ":")))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        listener = self._redis.pubsub()
        await listener.subscribe(self._prefix + channel)
        # Wait for Redis to confirm, so a message published once this returns is heard.
        await listener.get_message(timeout=5.0)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for raw in listener.listen():
                if raw.get("type") == "message":
                    yield json.loads(raw["data"])

        try:
            yield messages()
        finally:
            with contextlib.suppress(Exception):  # the connection may already be gone
                await listener.unsubscribe()
            await listener.aclose()

    async def keep(self, channel: str, message: dict[str, Any], *, ttl: float | None) -> str | None:
        key = self._prefix + "kept:" + channel
        fields = {"m": json.dumps(message, separators=(",", ":"))}
        if ttl is None:  # NOMKSTREAM: a gone channel is not made again without an expiry
            added = await self._redis.xadd(key, fields, maxlen=KEPT_MAX, approximate=True, nomkstream=True)
        else:
            async with self._redis.pipeline(transaction=False) as pipe:  # one round trip
                pipe.xadd(key, fields, maxlen=KEPT_MAX, approximate=True)
                pipe.expire(key, max(1, math.ceil(ttl)))
                added, _ = await pipe.execute()
        if added is None:
            return None
        return added.decode() if isinstance(added, bytes) else str(added)

    async def kept(self, channel: str, after: str | None) -> tuple[list[Kept], bool]:
        key = self._prefix + "kept:" + channel
        if after is None:
            return _decoded(await self._redis.xrange(key, "-", "+")), True
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xrange(key, after, after, count=1)  # the last event the page has: still here?
                pipe.xrange(key, "(" + after, "+")
                present, rest = await pipe.execute()
        except redis.ResponseError:  # not a stream id (an in-process one): read from the start
            return _decoded(await self._redis.xrange(key, "-", "+")), False
        return _decoded(rest), bool(present)

    async def follow(self, channel: str, after: str | None) -> AsyncGenerator[Kept, None]:
        key = self._prefix + "kept:" + channel
        last = after or "0-0"
        while True:
            read = await self._redis.xread({key: last}, count=500, block=int(FOLLOW_WAIT * 1000))
            for _, entries in read or ():
                for event_id, message in _decoded(entries):
                    last = event_id
                    yield event_id, message

    async def close(self) -> None:
        await self._redis.aclose()


def _decoded(entries: list[Any]) -> list[Kept]:
    return [(i.decode() if isinstance(i, bytes) else str(i), json.loads(fields[b"m"])) for i, fields in entries]


def make_pubsub(redis_url: str | None, prefix: str = "rolecall:") -> PubSub:
    return RedisPubSub(redis_url, prefix) if redis_url else MemoryPubSub()
