"""A circuit breaker per provider config (or Premiere upstream), shared by every replica.

Failures that say "this upstream is unhealthy" (timeouts, 5xx and overloads, connection errors:
the ``unavailable`` and ``timeout`` kinds) are counted per config; ``threshold`` of them in a row
open the circuit for ``cooldown`` seconds, during which the chain walk skips the config. After the
cooldown the circuit is half-open: exactly one caller (an atomic claim) may send a probe; its
success closes the circuit, its failure opens it again. A success resets the count. A 429, a
content refusal, a bad request or a bad key never count: they say nothing about the upstream's
health, and a person's own bad key must not look like an outage. A 429's Retry-After is honoured
on its own: the config is skipped until then.

State lives in the shared cache (``storage.cache``: Redis with REDIS_URL, in-process otherwise),
per config, under ``breaker:<id>:*`` keys. `check` reads the whole chain with one ``get_many``
(one Redis round trip); only a half-open circuit costs a second one (the probe claim). Writes
happen after a call: a failure, or a success that follows failures (the verdict says so).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rolecall.config import Settings
from rolecall.storage.cache import Cache

UNHEALTHY_KINDS = frozenset({"unavailable", "timeout"})


@dataclass(frozen=True)
class Policy:
    threshold: int = 3  # consecutive unhealthy failures that open the circuit
    window: float = 300.0  # a failure older than this (with nothing since) is forgotten
    cooldown: float = 30.0  # seconds the circuit stays open before a probe is allowed
    probe_timeout: float = 120.0  # a probe claim that never reports back expires after this
    open_memory: float = 3600.0  # an open circuit nobody probes closes by itself after this


DEFAULT = Policy()


def policy_of(settings: Settings) -> Policy:
    """The operator's `[breaker]` settings as a policy."""
    b = settings.breaker
    return Policy(threshold=b.threshold, cooldown=b.cooldown, window=b.window)


@dataclass(frozen=True)
class Verdict:
    """May this config be called now? ``reason`` says why not (for the usage log's skip reason)."""

    config_id: str
    allowed: bool
    state: str  # closed | open | half_open | rate_limited
    probe: bool = False  # this caller holds the half-open probe
    failures: int = 0
    until: float | None = None  # epoch seconds: end of the cooldown or of the Retry-After
    reason: str = ""


def _keys(config_id: str) -> list[str]:
    base = f"breaker:{config_id}:"
    return [base + "fails", base + "open", base + "retry"]


async def check(cache: Cache, config_ids: Sequence[str], *, policy: Policy = DEFAULT,
                now: float | None = None) -> dict[str, Verdict]:
    """A verdict for each config of a chain, reading all their states in one round trip."""
    moment = time.time() if now is None else now
    ids = list(dict.fromkeys(config_ids))
    values = await cache.get_many([key for cid in ids for key in _keys(cid)])
    verdicts = {}
    for index, cid in enumerate(ids):
        fails, opened, retry = values[3 * index: 3 * index + 3]
        verdicts[cid] = await _verdict(cache, cid, _num(fails), _num(opened), _num(retry), policy, moment)
    return verdicts


async def _verdict(cache: Cache, cid: str, fails: float | None, open_until: float | None, retry_until: float | None,
                   policy: Policy, now: float) -> Verdict:
    failures = int(fails or 0)
    if retry_until is not None and retry_until > now:
        return Verdict(cid, False, "rate_limited", failures=failures, until=retry_until,
                       reason=f"Rate limited by the provider; retrying after {_clock(retry_until)}")
    if open_until is None:
        return Verdict(cid, True, "closed", failures=failures)
    if open_until > now:
        return Verdict(cid, False, "open", failures=failures, until=open_until,
                       reason=f"Skipped: this provider failed {policy.threshold} times in a row; "
                              f"trying it again after {_clock(open_until)}")
    if await cache.add(f"breaker:{cid}:probe", b"1", policy.probe_timeout):
        return Verdict(cid, True, "half_open", probe=True, failures=failures, until=open_until)
    return Verdict(cid, False, "half_open", failures=failures, until=open_until,
                   reason="Skipped: this provider is being re-tested by another request")


async def record_success(cache: Cache, verdict: Verdict) -> None:
    """The call worked: close the circuit and forget failures (no write when there were none)."""
    if verdict.failures or verdict.probe or verdict.state != "closed":
        await _close(cache, verdict.config_id)


async def record_failure(cache: Cache, verdict: Verdict, kind: str, *, retry_after: float | None = None,
                         policy: Policy = DEFAULT, now: float | None = None) -> bool:
    """Count a failed call of ``kind``; True when this failure opened (or re-opened) the circuit."""
    moment = time.time() if now is None else now
    cid = verdict.config_id
    if kind == "rate_limited":
        if retry_after and retry_after > 0:
            until = moment + retry_after
            await cache.set(f"breaker:{cid}:retry", _text(until), retry_after)
        await release_probe(cache, verdict)
        return False
    if kind not in UNHEALTHY_KINDS:
        # Not the upstream's health: a probe that got a real answer proves the upstream is up.
        if verdict.probe:
            await _close(cache, cid)
        return False
    failures = await cache.incr(f"breaker:{cid}:fails", policy.window)
    if verdict.probe or failures >= policy.threshold:
        await cache.set(f"breaker:{cid}:open", _text(moment + policy.cooldown), policy.cooldown + policy.open_memory)
        await cache.delete(f"breaker:{cid}:probe")
        return True
    return False


async def reset(cache: Cache, config_id: str) -> None:
    """Forget everything about a config (it was edited or deleted)."""
    await cache.delete_many([f"breaker:{config_id}:{suffix}" for suffix in ("fails", "open", "probe", "retry")])


async def _close(cache: Cache, cid: str) -> None:
    await cache.delete_many([f"breaker:{cid}:{suffix}" for suffix in ("fails", "open", "probe")])


async def release_probe(cache: Cache, verdict: Verdict) -> None:
    """Give back a probe claim that was never used, so another request may probe at once."""
    if verdict.probe:
        await cache.delete(f"breaker:{verdict.config_id}:probe")


def _num(value: bytes | None) -> float | None:
    return float(value) if value is not None else None


def _text(value: float) -> bytes:
    return repr(round(value, 3)).encode()


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))
