"""The cost per chunk of keeping a group turn's live events (storage/pubsub.py): what a turn job
does for each `delta`, on a real Redis and in-process.

Cases, interleaved round by round (rotating the order), each writing ``--events`` small delta
messages to a fresh channel; medians of the per-event time:
* redis keep chunk: `RedisPubSub.keep(ttl=None)`, what a `delta` costs: XADD MAXLEN NOMKSTREAM.
* redis keep with ttl: XADD and EXPIRE pipelined, what every other event (turn start, end) costs.
* redis publish: `RedisPubSub.publish`, one PUBLISH: what a chunk cost before events were kept.
* baseline: a bare `PING` through the same redis-py client: one round trip, outside our code.
* memory keep: `MemoryPubSub.keep` (ring buffer append) with one follower reading along.

Run: `python bench/bench_live_events.py [--rounds 9] [--events 2000]` (REDIS_URL, default
redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable

from rolecall.storage.pubsub import MemoryPubSub, RedisPubSub

Case = Callable[[str, int], Awaitable[None]]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-{secrets.token_hex(4)}:"
    kept = RedisPubSub(url, prefix)
    memory = MemoryPubSub()
    message = {"e": "delta", "d": " word"}

    async def redis_keep(channel: str, n: int) -> None:
        await kept.keep(channel, {"e": "turn_started", "d": {}}, ttl=3600)
        for _ in range(n):
            await kept.keep(channel, message, ttl=None)

    async def redis_keep_ttl(channel: str, n: int) -> None:
        for _ in range(n):
            await kept.keep(channel, message, ttl=3600)

    async def redis_publish(channel: str, n: int) -> None:
        for _ in range(n):
            await kept.publish(channel, message)

    async def baseline(channel: str, n: int) -> None:
        for _ in range(n):
            await kept._redis.ping()

    async def memory_keep(channel: str, n: int) -> None:
        async def read() -> None:
            seen = 0
            async for _ in memory.follow(channel, None):
                seen += 1
                if seen == n:
                    return

        await memory.keep(channel, {"e": "turn_started", "d": {}}, ttl=3600)
        reader = asyncio.create_task(read())
        await asyncio.sleep(0)
        for _ in range(n - 1):
            await memory.keep(channel, message, ttl=None)
        await reader

    cases: dict[str, Case] = {"redis keep chunk": redis_keep, "redis keep with ttl": redis_keep_ttl,
                              "redis publish": redis_publish, "baseline (PING)": baseline,
                              "memory keep + 1 follower": memory_keep}
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    try:
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                channel = f"scene:{name}:{r}"
                start = time.perf_counter()
                await cases[name](channel, args.events)
                times[name].append((time.perf_counter() - start) / args.events * 1e6)
        keys = [k async for k in kept._redis.scan_iter(match=prefix + "*")]
        if keys:
            await kept._redis.delete(*keys)
    finally:
        await kept.close()
    base = statistics.median(times["baseline (PING)"])
    print(f"{args.rounds} rounds x {args.events} events; medians per event")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:28} {median:8.1f} us   x{median / base:5.2f} of a bare PING")


if __name__ == "__main__":
    asyncio.run(main())
