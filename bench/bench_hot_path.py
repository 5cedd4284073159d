"""What the generation hot path pays for the usage log and the circuit breaker.

* `usage.record(attempt)`: appends to the in-process buffer; compared with building the same
  `Attempt` and appending it to a plain list (the floor: what any in-memory log costs).
* `breaker.check` for a 3-config chain on Redis: one MGET; compared with one raw `GET` of a
  single key through redis-py (the floor: one round trip).
* The writer's batch INSERT on SQLite (rows made from attempts there: cost, scrubbing), per row.

Cases are interleaved, repeated, and reported as medians with the ratio to the floor. Prints
figures only. Run: `python bench/bench_hot_path.py` (Redis on REDIS_URL or 127.0.0.1:6379).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import redis.asyncio as redis

from rolecall.config import Settings
from rolecall.resources import open_resources
from rolecall.services import breaker, usage
from rolecall.services.usage import Attempt
from rolecall.storage.cache import RedisCache
from rolecall.storage.tables import Account

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
ROUNDS, PER_ROUND = 15, 2000


def attempt(account_id: str) -> Attempt:
    return Attempt(account_id, "cfg", "OpenRouter fallback", "openrouter", "openai/gpt-4o", "ok",
                   input_tokens=1200, output_tokens=300, latency_ms=900, ttft_ms=150)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        async with open_resources(settings, consume_jobs=False) as res:
            async with res.db.begin() as s:
                s.add(Account(id="b" * 24, name="bench", name_key="bench", password_hash="x"))
            assert res.usage is not None
            await res.usage.stop()  # measure record() alone; flushes are timed separately below
            floor, rec, flush = [], [], []
            for _ in range(ROUNDS):
                sink: list[Attempt] = []
                t = time.perf_counter()
                for _ in range(PER_ROUND):
                    sink.append(attempt("b" * 24))
                floor.append((time.perf_counter() - t) / PER_ROUND)
                t = time.perf_counter()
                for _ in range(PER_ROUND):
                    usage.record(res, attempt("b" * 24))
                rec.append((time.perf_counter() - t) / PER_ROUND)
                t = time.perf_counter()
                written = await res.usage.flush()
                flush.append((time.perf_counter() - t) / max(1, written))
    cache = RedisCache(REDIS_URL, prefix=f"bench-{secrets.token_hex(4)}:")
    raw = redis.Redis.from_url(REDIS_URL)
    one, chain = [], []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        for _ in range(200):
            await raw.get("bench-floor")
        one.append((time.perf_counter() - t) / 200)
        t = time.perf_counter()
        for _ in range(200):
            await breaker.check(cache, ["a", "b", "c"])
        chain.append((time.perf_counter() - t) / 200)
    await cache.close()
    await raw.aclose()
    us = 1e6
    record_us, floor_us = statistics.median(rec) * us, statistics.median(floor) * us
    print(f"usage.record:          median {record_us:7.2f} µs/attempt "
          f"(floor: build the Attempt + list.append {floor_us:6.2f} µs, ratio {record_us / floor_us:.2f})")
    print(f"writer INSERT (SQLite): median {statistics.median(flush) * us:7.2f} µs/row, in batches of {PER_ROUND}")
    print(f"breaker.check, 3 configs on Redis: median {statistics.median(chain) * us:7.1f} µs "
          f"(floor: one redis GET {statistics.median(one) * us:6.1f} µs, ratio {statistics.median(chain) / statistics.median(one):.2f})")


if __name__ == "__main__":
    asyncio.run(main())
