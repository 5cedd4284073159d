"""A canary key through the adapter flows: it must reach the fake's auth header and nothing else
we produce (log records at DEBUG, errors, reprs, results)."""

from __future__ import annotations

import logging

import httpx
import pytest

import rolecall.providers as providers
from rolecall.providers import ProviderError, connect, explain, protocol_for
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.gemini import FakeGemini
from tests.fakes.openai_compat import FakeOpenAI
from tests.providers.helpers import HELLO, collect

CANARY = "sk-canary-5f1e2d3c4b5a69788796a5b4c3d2e1f0"


async def _flows(conn, adapter, http, fake) -> list[str]:  # type: ignore[no-untyped-def]
    """Run test_key (ok / 401 / 429 / 500), chat, a stream cut midway; return everything produced."""
    produced: list[str] = [repr(conn), str(conn)]
    fake.keys = {CANARY}
    for status in (None, 401, 429, 500):
        if status:
            fake.fail_next(status, {"error": {"message": f"echo {CANARY} Bearer {CANARY}"}, "message": CANARY})
        check = await adapter.test_key(conn, http)
        produced += [repr(check), str(check.error), explain(check.error) if check.error else ""]
    produced.append(repr(await adapter.chat(conn, HELLO, http)))
    fake.plan.break_after = 3
    try:
        await collect(adapter.stream_chat(conn, HELLO, http))
    except ProviderError as exc:
        produced += [repr(exc), str(exc), repr(exc.__cause__)]
    return produced


@pytest.mark.parametrize("which", ["openai", "anthropic", "gemini"])
async def test_canary_key_never_leaks(
    which: str, caplog: pytest.LogCaptureFixture, http_client: httpx.AsyncClient,
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini,
) -> None:
    fake = {"openai": fake_openai, "anthropic": fake_anthropic, "gemini": fake_gemini}[which]
    conn = connect(which, api_key=CANARY, base_url=fake.base_url, model="m-1")
    caplog.set_level(logging.DEBUG)
    produced = await _flows(conn, protocol_for(conn.provider.protocol), http_client, fake)
    assert fake.requests, "the flows reached the fake"
    for text in produced + [caplog.text] + [r.getMessage() for r in caplog.records]:
        assert CANARY not in text


def test_public_surface_is_sorted_and_importable() -> None:
    assert providers.__all__ == sorted(providers.__all__)
    for name in providers.__all__:
        assert getattr(providers, name) is not None
