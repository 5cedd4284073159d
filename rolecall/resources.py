"""Wiring: open what a process holds while it runs (database, cache, job queue, key ring, client).

`serve` and `worker` both build one `services.resources.Resources` from the settings here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx

from rolecall.config import Settings
from rolecall.jobs import tasks
from rolecall.net import NetworkPolicy, make_client
from rolecall.services import keyring, premiere, turn_writes
from rolecall.services.limits import Limiter, LimitRules
from rolecall.services.resources import Resources
from rolecall.services.usage import UsageLog
from rolecall.storage import migrate
from rolecall.storage.cache import make_cache
from rolecall.storage.db import make_engine, make_private_dir, make_sessionmaker
from rolecall.storage.pubsub import make_pubsub
from rolecall.storage.queue import JobQueue

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings, *, consume_jobs: bool, run_migrations: bool = True
) -> AsyncIterator[Resources]:
    make_private_dir(settings.data_dir)
    ring = keyring.load_key_ring(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        if run_migrations:
            await migrate.upgrade(engine)
        db = make_sessionmaker(engine)
        await keyring.check_key_ring(db, ring)
        # Replies a stopped process left mid-stream: keep their text, marked interrupted. (Another
        # replica's live stream marked too sets its final status when it ends.)
        if recovered := await turn_writes.recover_streaming(db):
            log.info("Marked %d unfinished replies as interrupted", recovered)
    except BaseException:
        await engine.dispose()
        raise
    queue = JobQueue(settings.redis_url, name=f"{settings.redis_prefix}:jobs")
    runner = tasks.register_all(queue)
    cache = make_cache(settings.redis_url, prefix=f"{settings.redis_prefix}:")
    limiter = Limiter(cache, LimitRules(**settings.limits.model_dump()))
    res = Resources(settings, engine, db, cache, queue, ring, _outbound_client(settings), limiter)
    res.usage = UsageLog(db)
    res.pubsub = make_pubsub(settings.redis_url, prefix=f"{settings.redis_prefix}:")
    premiere_policy = premiere.network_policy(settings)
    if premiere_policy is not None:
        res.premiere_http = _outbound_client(settings, premiere_policy)
    res.usage.start()
    await queue.start(res, consume=consume_jobs)
    # Every process that runs jobs also re-delivers lost ones and fires due schedules.
    upkeep = asyncio.create_task(runner.upkeep(res)) if consume_jobs else None
    try:
        yield res
    finally:
        if upkeep is not None:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep
        await queue.stop()
        await res.usage.stop()  # after the streams and jobs ended: their last rows are written
        if res.premiere_http is not None:
            await res.premiere_http.aclose()
        await res.http.aclose()
        await res.cache.close()
        await res.pubsub.close()
        await engine.dispose()


def _outbound_client(settings: Settings, policy: NetworkPolicy | None = None) -> httpx.AsyncClient:
    net = settings.network
    policy = policy or NetworkPolicy(allow_private=tuple(net.allow_private), allow_hosts=tuple(net.allow_hosts))
    return make_client(policy, connect_timeout=net.connect_timeout, read_timeout=net.read_timeout,
                       max_response_bytes=net.max_response_bytes, max_connections=net.max_connections)
