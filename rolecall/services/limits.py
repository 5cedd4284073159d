"""Per-account limits on what costs the server: calls to providers, and how often a person may ask.

Three guards, for the Test Key path today and the generation path next:

* ``rate(action, account_id)``: a one-minute window counter per account and action ("test", "save"),
  kept in the shared cache (Redis when configured, so every replica counts the same requests).
  Over the limit: ``RateLimited`` (429 with Retry-After = seconds until the window ends).
* ``outbound(account_id, origin, deadline=...)``: one provider operation. At most
  ``outbound_per_account`` run at once for one account and ``outbound_per_origin`` for one
  destination (scheme://host:port) in this process; more is refused at once (429), never queued,
  so one person's slow upstream cannot hold the shared connection pool. The whole operation
  (every request and every byte of it) must finish within ``deadline`` seconds, or
  ``TimeoutError`` is raised: the client's read timeout only bounds the wait *between* bytes,
  and an upstream sending a byte a second would otherwise hold a connection for hours.

The concurrency counts are per process on purpose: a slot held in Redis by a replica that died
would never be given back, and each replica has its own connection pool to protect anyway.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from rolecall.services.errors import RateLimited
from rolecall.storage.cache import Cache

BUSY_RETRY_AFTER = 5  # seconds: a running call usually ends well within this


@dataclass(frozen=True)
class LimitRules:
    """The numbers (``Settings.limits``), copied so services do not depend on the settings model."""

    test_deadline: float = 20.0
    refresh_deadline: float = 60.0
    first_token_deadline: float = 90.0
    chain_deadline: float = 120.0
    outbound_per_account: int = 8
    outbound_per_origin: int = 32
    tests_per_minute: int = 30
    saves_per_minute: int = 30
    api_requests_per_minute: int = 120


ACTIONS = {
    "test": ("tests_per_minute", "You've tested keys {n} times in the last minute. Wait {s} seconds, then try again."),
    "save": ("saves_per_minute", "You've saved configs {n} times in the last minute. Wait {s} seconds, then try again."),
    # Keyed by access token, not account: one tool cannot starve another.
    "api": ("api_requests_per_minute", "Rate limit reached for this access token: {n} requests per minute. "
            "Try again in {s} seconds."),
}
WINDOW = 60


class Limiter:
    def __init__(self, cache: Cache, rules: LimitRules) -> None:
        self.cache = cache
        self.rules = rules
        self._by_account: Counter[str] = Counter()
        self._by_origin: Counter[str] = Counter()

    async def rate(self, action: str, account_id: str) -> None:
        """Count one ``action`` for the account; raise RateLimited when over the per-minute limit."""
        rule, message = ACTIONS[action]
        allowed = getattr(self.rules, rule)
        key = f"rate:{action}:{account_id}"
        # The window opens with the first request and lasts a minute (the counter's expiry).
        if await self.cache.incr(key, ttl=WINDOW) > allowed:
            wait = max(1, math.ceil(await self.cache.ttl(key) or WINDOW))
            raise RateLimited(message.format(n=allowed, s=wait), retry_after=wait)

    def running(self, account_id: str) -> int:
        return self._by_account[account_id]

    @asynccontextmanager
    async def outbound(self, account_id: str, origin: str, *, deadline: float) -> AsyncIterator[None]:
        """Hold a slot for one provider operation that must end within ``deadline`` seconds."""
        async with self.slot(account_id, origin):
            async with asyncio.timeout(deadline):
                yield

    @asynccontextmanager
    async def slot(self, account_id: str, origin: str) -> AsyncIterator[None]:
        """Hold a provider-call slot with no overall deadline (a streamed reply sets its own)."""
        if self._by_account[account_id] >= self.rules.outbound_per_account:
            raise RateLimited(f"You have {self.rules.outbound_per_account} provider calls running already. "
                              "Wait for one to finish, then try again.", retry_after=BUSY_RETRY_AFTER)
        if self._by_origin[origin] >= self.rules.outbound_per_origin:
            raise RateLimited(f"Too many calls to {origin} are running on this server right now. "
                              "Try again in a few seconds.", retry_after=BUSY_RETRY_AFTER)
        self._by_account[account_id] += 1
        self._by_origin[origin] += 1
        try:
            yield
        finally:
            _release(self._by_account, account_id)
            _release(self._by_origin, origin)


def _release(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]  # the counters only hold what is running now
