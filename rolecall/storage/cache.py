"""A small key-value cache with expiry: Redis when REDIS_URL is set, in-process otherwise.

Used for what several replicas must agree on (log-in rate limits, circuit-breaker state,
model-list refresh claims). The in-process variant is only correct for a single process, which is
exactly the embedded default.
"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as redis


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        """Several values in one round trip (None where missing or expired)."""
        ...
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...
    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Set ``key`` only if it is absent; True when this call set it (an atomic claim)."""
        ...
    async def delete(self, key: str) -> None: ...
    async def delete_many(self, keys: list[str]) -> None:
        """Delete several keys in one round trip."""
        ...
    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        """Add ``amount`` to a counter atomically and return it; a new counter expires ``ttl`` seconds from now."""
        ...
    async def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires; None when it does not exist (or never expires)."""
        ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, bytes]] = {}

    def _live(self, key: str) -> tuple[float, bytes] | None:
        item = self._items.get(key)
        if item is not None and item[0] <= time.monotonic():
            del self._items[key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[1] if item else None

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._items[key] = (time.monotonic() + ttl, value)

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._items[key] = (time.monotonic() + ttl, value)
        return True

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self._items.pop(key, None)

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        # No await inside: one event loop makes this read-modify-write atomic.
        item = self._live(key)
        expires, count = (item[0], int(item[1]) + amount) if item else (time.monotonic() + ttl, amount)
        self._items[key] = (expires, str(count).encode())
        return count

    async def ttl(self, key: str) -> float | None:
        item = self._live(key)
        return item[0] - time.monotonic() if item else None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._items.clear()


class RedisCache:
    def __init__(self, url: str, prefix: str = "rolecall:") -> None:
        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._redis.get(self._prefix + key)
        return value

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        values: list[bytes | None] = await self._redis.mget([self._prefix + key for key in keys])
        return values

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis.set(self._prefix + key, value, px=max(1, int(ttl * 1000)))

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._redis.set(self._prefix + key, value, px=max(1, int(ttl * 1000)), nx=True))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def delete_many(self, keys: list[str]) -> None:
        if keys:
            await self._redis.delete(*[self._prefix + key for key in keys])

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        full = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(full, amount)
            pipe.pexpire(full, max(1, int(ttl * 1000)), nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def ttl(self, key: str) -> float | None:
        millis = await self._redis.pttl(self._prefix + key)
        return millis / 1000 if millis >= 0 else None

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def make_cache(redis_url: str | None, prefix: str = "rolecall:") -> Cache:
    return RedisCache(redis_url, prefix) if redis_url else MemoryCache()
