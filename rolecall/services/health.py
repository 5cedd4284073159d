"""Readiness: does every backing service this process depends on answer?"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from rolecall.storage.cache import Cache
from rolecall.storage.db import ping

log = logging.getLogger(__name__)


async def readiness(engine: AsyncEngine, cache: Cache) -> dict[str, str]:
    checks: dict[str, str] = {}
    probes: tuple[tuple[str, Callable[[], Awaitable[object]]], ...] = (
        ("database", lambda: ping(engine)), ("cache", cache.ping))
    for name, probe in probes:
        try:
            await probe()
            checks[name] = "ok"
        except Exception as exc:  # readiness reports failures, it does not raise them
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            checks[name] = "unavailable"
    return checks
