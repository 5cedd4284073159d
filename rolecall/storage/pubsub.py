"""Publish/subscribe for live events: Redis pub/sub when REDIS_URL is set, in-process otherwise.

A group scene's turns run as jobs, perhaps in a worker on another machine; the browser watches
them through the scene's event stream, which subscribes here. Messages are small JSON-able dicts;
delivery is at most once and only to subscribers listening at that moment (the database stays the
record: a page that connects late reads the scene first).

```python
async with pubsub.subscribe("scene:abc") as messages:
    async for message in messages:   # dicts, in publishing order
        ...
await pubsub.publish("scene:abc", {"e": "delta", "d": "Hello"})
```
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as redis

QUEUE_SIZE = 1000  # a subscriber this far behind loses the oldest events, not the publisher's time


class PubSub(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...
    async def close(self) -> None: ...


class MemoryPubSub:
    """One process: every subscriber of a channel has its own bounded queue."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

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

    async def close(self) -> None:
        self._subscribers.clear()


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

    async def close(self) -> None:
        await self._redis.aclose()


def make_pubsub(redis_url: str | None, prefix: str = "rolecall:") -> PubSub:
    return RedisPubSub(redis_url, prefix) if redis_url else MemoryPubSub()
