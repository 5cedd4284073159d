"""The per-config circuit breaker: opens, half-opens with one probe, closes; shared through Redis."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager

from rolecall.app import create_app
from rolecall.services import breaker
from rolecall.storage.cache import Cache, MemoryCache, RedisCache
from tests.conftest import REDIS_URL

POLICY = breaker.Policy(threshold=3, cooldown=30.0)
T0 = time.time()


@pytest.fixture(params=["memory", "redis"])
async def cache(request) -> AsyncIterator[Cache]:  # type: ignore[no-untyped-def]
    c: Cache = MemoryCache() if request.param == "memory" else RedisCache(REDIS_URL, prefix=f"test-{secrets.token_hex(4)}:")
    yield c
    await c.close()


async def verdict(cache: Cache, cid: str, now: float) -> breaker.Verdict:
    return (await breaker.check(cache, [cid], policy=POLICY, now=now))[cid]


async def fail(cache: Cache, cid: str, kind: str, now: float, retry_after: float | None = None) -> bool:
    return await breaker.record_failure(cache, await verdict(cache, cid, now), kind, retry_after=retry_after,
                                        policy=POLICY, now=now)


async def test_three_outages_in_a_row_open_the_circuit_then_one_probe_closes_it(cache) -> None:  # type: ignore[no-untyped-def]
    assert [await fail(cache, "cfg", kind, T0) for kind in ("timeout", "unavailable")] == [False, False]
    assert (await verdict(cache, "cfg", T0)).allowed
    assert await fail(cache, "cfg", "unavailable", T0) is True
    shut = await verdict(cache, "cfg", T0 + 29)
    assert (shut.allowed, shut.state) == (False, "open") and "failed 3 times in a row" in shut.reason
    probe = await verdict(cache, "cfg", T0 + 31)
    assert (probe.allowed, probe.state, probe.probe) == (True, "half_open", True)
    other = await verdict(cache, "cfg", T0 + 31)  # a second request while the probe is out
    assert (other.allowed, other.state) == (False, "half_open") and "re-tested" in other.reason
    await breaker.record_success(cache, probe)
    closed = await verdict(cache, "cfg", T0 + 32)
    assert (closed.allowed, closed.state, closed.failures) == (True, "closed", 0)


async def test_a_failed_probe_opens_the_circuit_again(cache) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await fail(cache, "cfg", "timeout", T0)
    probe = await verdict(cache, "cfg", T0 + 31)
    assert probe.probe
    assert await breaker.record_failure(cache, probe, "timeout", policy=POLICY, now=T0 + 31) is True
    again = await verdict(cache, "cfg", T0 + 40)
    assert (again.allowed, again.state) == (False, "open") and again.until == pytest.approx(T0 + 61, abs=0.01)


async def test_a_success_resets_the_count_so_failures_must_be_consecutive(cache) -> None:  # type: ignore[no-untyped-def]
    await fail(cache, "cfg", "timeout", T0)
    await fail(cache, "cfg", "timeout", T0)
    await breaker.record_success(cache, await verdict(cache, "cfg", T0))
    assert await fail(cache, "cfg", "timeout", T0) is False
    assert (await verdict(cache, "cfg", T0)).allowed


async def test_rate_limits_refusals_and_bad_keys_never_open_it(cache) -> None:  # type: ignore[no-untyped-def]
    for kind in ("rate_limited", "bad_request", "auth", "blocked", "context_too_long") * 3:
        assert await fail(cache, "cfg", kind, T0) is False
    state = await verdict(cache, "cfg", T0)
    assert (state.allowed, state.failures) == (True, 0)


async def test_retry_after_is_respected_per_config(cache) -> None:  # type: ignore[no-untyped-def]
    await fail(cache, "slow", "rate_limited", T0, retry_after=20)
    both = await breaker.check(cache, ["slow", "fine"], policy=POLICY, now=T0 + 5)
    assert (both["slow"].allowed, both["slow"].state) == (False, "rate_limited")
    assert both["slow"].until == pytest.approx(T0 + 20, abs=0.01) and "Rate limited" in both["slow"].reason
    assert both["fine"].allowed
    assert (await verdict(cache, "slow", T0 + 21)).allowed


async def test_one_round_trip_reads_a_whole_chain(cache) -> None:  # type: ignore[no-untyped-def]
    calls = []
    original = cache.get_many

    async def counted(keys):  # type: ignore[no-untyped-def]
        calls.append(keys)
        return await original(keys)

    cache.get_many = counted
    await breaker.check(cache, ["a", "b", "c", "a"], policy=POLICY, now=T0)
    assert len(calls) == 1 and len(calls[0]) == 9


async def test_state_is_shared_by_two_app_instances_on_one_redis(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(redis_url=REDIS_URL, redis_prefix=f"test-{secrets.token_hex(4)}")
    first, second = create_app(settings), create_app(settings)
    async with LifespanManager(first), LifespanManager(second):
        one, two = first.state.res.cache, second.state.res.cache
        assert one is not two
        for _ in range(3):
            state = (await breaker.check(one, ["cfg"], policy=POLICY, now=T0))["cfg"]
            await breaker.record_failure(one, state, "unavailable", policy=POLICY, now=T0)
        seen = (await breaker.check(two, ["cfg"], policy=POLICY, now=T0 + 1))["cfg"]
        assert (seen.allowed, seen.state) == (False, "open")
        probe = (await breaker.check(two, ["cfg"], policy=POLICY, now=T0 + 31))["cfg"]
        assert probe.probe
        busy = (await breaker.check(one, ["cfg"], policy=POLICY, now=T0 + 31))["cfg"]
        assert (busy.allowed, busy.state) == (False, "half_open")  # the claim is shared too
        await breaker.record_success(two, probe)
        assert (await breaker.check(one, ["cfg"], policy=POLICY, now=T0 + 32))["cfg"].allowed


def test_the_operator_tunes_the_breaker_in_settings(make_settings) -> None:  # type: ignore[no-untyped-def]
    from rolecall.config import BreakerSettings

    policy = breaker.policy_of(make_settings(breaker=BreakerSettings(threshold=5, cooldown=60, window=120)))
    assert (policy.threshold, policy.cooldown, policy.window) == (5, 60.0, 120.0)
    assert breaker.policy_of(make_settings()) == breaker.DEFAULT
