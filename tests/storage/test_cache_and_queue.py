"""The cache and the job queue, in-process and on a real Redis."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from rolecall.storage.cache import MemoryCache, RedisCache
from rolecall.storage.queue import JobQueue
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def cache(request):  # type: ignore[no-untyped-def]
    c = MemoryCache() if request.param == "memory" else RedisCache(REDIS_URL, prefix=f"test-{secrets.token_hex(4)}:")
    yield c
    await c.close()


async def test_cache_set_get_expire(cache) -> None:  # type: ignore[no-untyped-def]
    await cache.set("k", b"v", ttl=0.2)
    assert await cache.get("k") == b"v"
    await asyncio.sleep(0.3)
    assert await cache.get("k") is None


async def test_cache_counter_keeps_its_first_expiry(cache) -> None:  # type: ignore[no-untyped-def]
    assert [await cache.incr("n", ttl=0.3) for _ in range(3)] == [1, 2, 3]
    await asyncio.sleep(0.4)
    assert await cache.incr("n", ttl=0.3) == 1
    await cache.delete("n")
    assert await cache.get("n") is None


async def test_cache_batch_reads_claims_and_deletes(cache) -> None:  # type: ignore[no-untyped-def]
    await cache.set("a", b"1", ttl=5)
    await cache.incr("n", ttl=5)
    assert await cache.get_many(["a", "missing", "n"]) == [b"1", None, b"1"]
    assert await cache.add("claim", b"x", ttl=0.2) is True
    assert await cache.add("claim", b"y", ttl=0.2) is False  # only one caller wins a claim
    assert await cache.get("claim") == b"x"
    await asyncio.sleep(0.3)
    assert await cache.add("claim", b"z", ttl=5) is True  # an expired claim can be taken again
    await cache.delete_many(["a", "n", "claim"])
    assert await cache.get_many(["a", "n", "claim"]) == [None, None, None]


async def test_in_process_queue_runs_jobs() -> None:
    queue = JobQueue(None)
    seen: list[tuple[object, int]] = []

    async def job(ctx: object, n: int) -> None:
        seen.append((ctx, n))

    queue.register("record", job)
    await queue.start("ctx", consume=True)
    await queue.enqueue("record", n=7)
    await queue.drain()
    await queue.stop()
    assert seen == [("ctx", 7)]


async def test_redis_queue_delivers_to_a_separate_worker() -> None:
    name = f"test-jobs-{secrets.token_hex(4)}"
    producer, worker = JobQueue(REDIS_URL, name=name), JobQueue(REDIS_URL, name=name)
    done = asyncio.Event()
    seen: list[tuple[object, int]] = []

    async def job(ctx: object, n: int) -> None:
        seen.append((ctx, n))
        done.set()

    for q in (producer, worker):
        q.register("record", job)
    await producer.start("web", consume=False)
    await worker.start("worker", consume=True)
    try:
        await producer.enqueue("record", n=42)
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        await producer.stop()
        await worker.stop()
    assert seen == [("worker", 42)]
