"""What a process holds open while it runs: database engine, cache, job queue.

`serve` and `worker` both build one ``Resources`` from the settings; routes, jobs and services
receive it (or the part they need) instead of building connections themselves.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rolecall.config import Settings
from rolecall.crypto import KeyRing
from rolecall.jobs import tasks
from rolecall.net import NetworkPolicy, make_client
from rolecall.services import keys
from rolecall.storage import migrate
from rolecall.storage.cache import Cache, make_cache
from rolecall.storage.db import make_engine, make_sessionmaker
from rolecall.storage.queue import JobQueue

log = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    cache: Cache
    queue: JobQueue
    keyring: KeyRing
    http: httpx.AsyncClient  # the one outbound client, behind the SSRF guard


@contextlib.asynccontextmanager
async def open_resources(settings: Settings, *, consume_jobs: bool, run_migrations: bool = True) -> AsyncIterator[Resources]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = keys.load_key_ring(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        if run_migrations:
            await migrate.upgrade(engine)
        db = make_sessionmaker(engine)
        await keys.check_key_ring(db, keyring)
    except BaseException:
        await engine.dispose()
        raise
    queue = JobQueue(settings.redis_url, name=f"{settings.redis_prefix}:jobs")
    tasks.register_all(queue)
    cache = make_cache(settings.redis_url, prefix=f"{settings.redis_prefix}:")
    res = Resources(settings, engine, db, cache, queue, keyring, _outbound_client(settings))
    await queue.start(res, consume=consume_jobs)
    try:
        yield res
    finally:
        await queue.stop()
        await res.http.aclose()
        await res.cache.close()
        await engine.dispose()


def _outbound_client(settings: Settings) -> httpx.AsyncClient:
    net = settings.network
    policy = NetworkPolicy(allow_private=tuple(net.allow_private), allow_hosts=tuple(net.allow_hosts))
    return make_client(policy, connect_timeout=net.connect_timeout, read_timeout=net.read_timeout,
                       max_response_bytes=net.max_response_bytes)
