"""What a process holds open while it runs, as one typed object the services receive.

`rolecall.resources.open_resources` builds it (serve and worker alike); services, jobs and
routes take ``res: Resources`` or the part they need (``res.db``, ``res.http``) instead of
building connections themselves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from rolecall.config import Settings
from rolecall.crypto import KeyRing
from rolecall.services.limits import Limiter
from rolecall.storage.cache import Cache
from rolecall.storage.db import Sessions, make_read_sessionmaker
from rolecall.storage.pubsub import MemoryPubSub, PubSub
from rolecall.storage.queue import JobQueue

if TYPE_CHECKING:
    from rolecall.services.usage import UsageLog


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    db: Sessions
    cache: Cache
    queue: JobQueue
    keyring: KeyRing
    http: httpx.AsyncClient  # the one outbound client, behind the SSRF guard
    limits: Limiter  # per-account rate limits and provider-call slots
    # The usage log's buffered writer (services.usage); flushed when the process stops.
    usage: UsageLog | None = None
    # Premiere Theater calls only, when an operator upstream is on a private address the
    # people's policy refuses (services.premiere.network_policy); else None and `http` is used.
    premiere_http: httpx.AsyncClient | None = None
    # Live events (a group scene's turns) from jobs to the pages watching: Redis with REDIS_URL.
    pubsub: PubSub = field(default_factory=MemoryPubSub)

    @functools.cached_property
    def reads(self) -> Sessions:
        """Sessions for the hot read-only paths (the sign-in check, a turn's reads): see
        `storage.db.make_read_sessionmaker`."""
        return make_read_sessionmaker(self.engine)
