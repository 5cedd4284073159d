"""The circuit breaker driven by real generations: it opens, half-opens with one probe, closes; and
two app instances on one Redis see the same circuit."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from rolecall.config import BreakerSettings
from rolecall.resources import open_resources
from rolecall.services import fallback
from tests.conftest import REDIS_URL
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.services.chain_helpers import (  # noqa: F401
    BACKUP_MODEL,
    PRIMARY_MODEL,
    attempts,
    chain_settings,
    chat_models,
    house_key,
    outcomes,
    person,
    skips,
    turn,
)

COOLDOWN = 1.5  # long enough that the next turn lands inside it even on a loaded machine


@pytest.fixture
def settings(make_settings, fake_openai):  # type: ignore[no-untyped-def]
    return chain_settings(make_settings, fake_openai, breaker=BreakerSettings(threshold=3, cooldown=COOLDOWN))


async def test_the_breaker_opens_half_opens_and_closes_through_generations(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    for _ in range(3):  # three outages in a row: each turn still gets its reply from the backup
        fake_openai.fail_next(503, path="/chat/completions")
        assert skips(await turn(res, who)) == [(0, "unavailable")]
    fake_openai.requests.clear()
    assert skips(await turn(res, who)) == [(0, "circuit_open")]  # open: the primary is not even called
    assert chat_models(fake_openai) == [BACKUP_MODEL]
    await asyncio.sleep(COOLDOWN + 0.1)
    fake_openai.fail_next(503, path="/chat/completions")  # half-open: the probe fails, the circuit opens again
    assert skips(await turn(res, who)) == [(0, "unavailable")]
    assert skips(await turn(res, who)) == [(0, "circuit_open")]
    await asyncio.sleep(COOLDOWN + 0.1)
    fake_openai.requests.clear()
    probe = await turn(res, who)  # the probe succeeds: closed
    assert skips(probe) == [] and chat_models(fake_openai) == [PRIMARY_MODEL]
    fake_openai.fail_next(503, path="/chat/completions")  # one failure after closing does not open it
    assert skips(await turn(res, who)) == [(0, "unavailable")]
    assert skips(await turn(res, who)) == []
    kinds = [o for o in outcomes(await attempts(res, who)) if o[0] == 0]
    assert kinds == [(0, "error", "unavailable")] * 3 + [(0, "skipped", "circuit_open"), (0, "error", "unavailable"),
                                                        (0, "skipped", "circuit_open"), (0, "ok", ""),
                                                        (0, "error", "unavailable"), (0, "ok", "")]


async def test_a_429_retry_after_skips_the_config_until_then(res, fake_openai) -> None:  # type: ignore[no-untyped-def]
    who = await person(res, fake_openai.base_url)
    fake_openai.fail_next(429, headers={"retry-after": "30"}, path="/chat/completions")
    assert skips(await turn(res, who)) == [(0, "rate_limited")]
    again = await turn(res, who)
    assert skips(again) == [(0, "rate_limited")]
    assert "retrying after" in next(e.data for e in again if e.name == "skipped")["reason"]


async def test_two_app_instances_on_one_redis_share_the_circuit(make_settings, fake_openai) -> None:  # type: ignore[no-untyped-def]
    settings = chain_settings(make_settings, fake_openai, redis_url=REDIS_URL, redis_prefix=f"test-{secrets.token_hex(4)}",
                              breaker=BreakerSettings(threshold=3, cooldown=60))
    async with open_resources(settings, consume_jobs=False) as one, open_resources(settings, consume_jobs=False) as two:
        who = await person(one, fake_openai.base_url)
        for _ in range(3):
            fake_openai.fail_next(503, path="/chat/completions")
            await turn(one, who)
        walk = await fallback.plan(two, who.account_id, scene_model=None, preset_id=who.preset_id)
        assert [p.skip_kind for p in walk] == ["circuit_open", "", ""]
        fake_openai.requests.clear()
        assert skips(await turn(two, who)) == [(0, "circuit_open")]
        assert chat_models(fake_openai) == [BACKUP_MODEL]
