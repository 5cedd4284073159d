"""The database work each path of `bench_relay.py` makes, timed from the bench process on the
server's own database (the server's figures include it; these say how much of them it is)."""

from __future__ import annotations

import secrets
import statistics
import time
from typing import Any, cast

from relay_parts import CHUNKS, LABEL, MODEL, Site, new_scene


class _DbOnly:
    """What `gateway.prepare` and `openai_api.resolve` read of `Resources`: the sessions (the
    latter's cache holds a weak reference)."""

    def __init__(self, db: Any, reads: Any) -> None:
        self.db = db
        self.reads = reads


def _ms(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


async def scene_db_writes(site: Site, samples: int = 60) -> dict[str, float]:
    """Median ms of the reads before the upstream call and each write a scene turn makes."""
    from rolecall.services import accounts, gateway, turn_writes
    from rolecall.services.messages import ReplyTarget
    from rolecall.services.turn_writes import Made, Outcome
    from rolecall.storage.cache import MemoryCache
    from rolecall.storage.db import make_engine, make_read_sessionmaker, make_sessionmaker

    account_id = (await site.client.get("/api/me")).json()["id"]
    scene_id = await new_scene(site)
    engine = make_engine(site.app.database_url)
    db = make_sessionmaker(engine)
    res = cast(Any, _DbOnly(db, make_read_sessionmaker(engine)))
    times: dict[str, list[float]] = {"reads before upstream": [], "user message": [], "reply row": [], "final text": []}
    made = Made(site.config_id, MODEL, "openai")
    cache = MemoryCache()
    token = await accounts.start_session(db, account_id, 1)
    try:
        for _ in range(samples):
            # What a turn reads before the upstream call, as the route makes it: the session lookup
            # (answered by the cache once the session's first request has filled it), then
            # `gateway.prepare`'s reads (the scene with its preset and its own config, the history,
            # the preset's chain with its config rows).
            r0 = time.perf_counter()
            await accounts.session_account(res.reads, cache, token)
            await gateway.prepare(res, account_id, scene_id, "send", text="Go on.")
            times["reads before upstream"].append(time.perf_counter() - r0)
            t0 = time.perf_counter()
            await turn_writes.add_user_message(db, account_id, scene_id, "Go on.")
            t1 = time.perf_counter()
            target = ReplyTarget(scene_id, account_id, secrets.token_hex(12), 0)
            started = await turn_writes.begin_reply(db, target, made)
            t2 = time.perf_counter()
            await turn_writes.finish_reply(db, target, Outcome("tok " * CHUNKS, "complete", "stop", 12, 50), made, {}, started)
            t3 = time.perf_counter()
            times["user message"].append(t1 - t0)
            times["reply row"].append(t2 - t1)
            times["final text"].append(t3 - t2)
    finally:
        await engine.dispose()
    return _ms(times)


async def api_db_work(site: Site, samples: int = 60) -> dict[str, float]:
    """Median ms of the database work a /v1 call can make. None of it is on a warm call's path
    before the first token: the token check is cached 60 s, a resolved model name 5 s, and the
    usage-log row is buffered and written after the stream, in batches."""
    from rolecall.services import access_tokens, openai_api, usage
    from rolecall.storage.cache import MemoryCache
    from rolecall.storage.db import make_engine, make_read_sessionmaker, make_sessionmaker

    account_id = (await site.client.get("/api/me")).json()["id"]
    engine = make_engine(site.app.database_url)
    db = make_sessionmaker(engine)
    res = cast(Any, _DbOnly(db, make_read_sessionmaker(engine)))
    times: dict[str, list[float]] = {"token check (cache miss)": [], "model name (cache miss)": [],
                                     "usage row alone": [], "usage row in a batch of 32": []}

    def attempt() -> usage.Attempt:
        return usage.Attempt(account_id, site.config_id, LABEL, "openai", MODEL, "ok", latency_ms=20, ttft_ms=2,
                             input_tokens=12, output_tokens=CHUNKS)
    try:
        for _ in range(samples):
            t0 = time.perf_counter()
            await access_tokens.authenticate(db, MemoryCache(), site.token)  # read + last_used_at write
            t1 = time.perf_counter()
            openai_api._ROUTES.clear()
            await openai_api.resolve(res, account_id, f"{LABEL}/{MODEL}")
            t2 = time.perf_counter()
            log = usage.UsageLog(db)
            log.record(attempt())
            await log.flush()
            t3 = time.perf_counter()
            for _ in range(32):
                log.record(attempt())
            await log.flush()
            t4 = time.perf_counter()
            times["token check (cache miss)"].append(t1 - t0)
            times["model name (cache miss)"].append(t2 - t1)
            times["usage row alone"].append(t3 - t2)
            times["usage row in a batch of 32"].append((t4 - t3) / 32)
    finally:
        openai_api._ROUTES.clear()
        await engine.dispose()
    return _ms(times)
