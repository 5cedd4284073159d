"""Every protocol the adapters speak, through a scene: the reply text, finish reason and usage stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from rolecall.providers import PROTOCOLS
from tests.fakes.fixtures import (  # noqa: F401
    _anthropic_server,
    _azure_server,
    _cohere_server,
    _gemini_server,
    _novelai_server,
    _openai_server,
    _vertex_server,
    fake_anthropic,
    fake_azure,
    fake_cohere,
    fake_gemini,
    fake_novelai,
    fake_openai,
    fake_vertex,
)
from tests.fakes.novelai import TOKEN
from tests.fakes.server import VALID_KEY
from tests.loopback_fixtures import settings  # noqa: F401
from tests.scene_helpers import Owner, only, reply_text, scene_with, server_config, stream

TEXT = "The lamp swings; the sea below is black as tar, and twice as cold."


@dataclass
class Case:
    fake: str
    provider_id: str
    base_url: Callable[[Any], str]
    key: Callable[[Any], str]
    model: str
    values: dict[str, str]
    usage: dict[str, int] | None = None  # None: the protocol reports no usage
    finish: str = "length"  # NovelAI's stream has no finish words: a clean end is "stop"


USAGE = {"input_tokens": 12, "output_tokens": 9}


def _service_account(fake: Any) -> str:
    # A fresh key id each time: the adapter caches tokens per key, the fake forgets them between tests.
    return json.dumps(fake.service_account(private_key_id=uuid.uuid4().hex))
CASES = [
    Case("fake_openai", "openai", lambda f: f.base_url, lambda f: VALID_KEY, "gpt-4o-mini", {}, USAGE),
    Case("fake_anthropic", "anthropic", lambda f: f.base_url, lambda f: VALID_KEY, "claude-sonnet-4-5-20250929", {}, USAGE),
    Case("fake_gemini", "gemini", lambda f: f.base_url, lambda f: VALID_KEY, "gemini-2.5-flash", {}, USAGE),
    Case("fake_cohere", "cohere", lambda f: f.base_url, lambda f: VALID_KEY, "command-a-03-2025", {}, USAGE),
    Case("fake_azure", "azure_openai", lambda f: f.url + "/openai", lambda f: VALID_KEY, "gpt-4o-prod",
         {"resource_name": "my-res", "deployment_id": "gpt-4o-prod"}, USAGE),
    Case("fake_vertex", "vertex", lambda f: f.base_url, _service_account, "gemini-2.5-flash",
         {"region": "us-east5"}, USAGE),
    Case("fake_vertex", "vertex", lambda f: f.base_url, _service_account,
         "claude-sonnet-4-5@20250929", {"region": "us-east5"}, USAGE),
    Case("fake_novelai", "novelai", lambda f: f.url, lambda f: TOKEN, "llama-3-erato-v1", {}, None, "stop"),
]




@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.provider_id}-{c.model}")
async def test_reply_assembled_exactly_with_finish_and_usage(
    case: Case, owner: Owner, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = request.getfixturevalue(case.fake)
    if case.provider_id == "vertex":  # the fake plays Google's token endpoint too
        monkeypatch.setattr(PROTOCOLS["vertex"], "token_url", fake.token_url)
    fake.reply.text = TEXT
    fake.reply.finish = "length"
    fake.plan.chunk_delay = 0.02  # a provider's pace (pieces that arrive in one read go on as one)
    config_id = await server_config(owner, case.provider_id, case.base_url(fake), case.key(fake), values=case.values)
    scene = await scene_with(owner.client, config_id, case.model)
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Who keeps the light?"})
    assert reply_text(events) == TEXT, events
    assert len([e for e in events if e.name == "delta"]) > 1  # streamed in pieces, one event per chunk
    done = only(events, "done")
    assert done["text"] == TEXT and done["status"] == "complete"
    assert done["finish_reason"] == case.finish
    assert done["usage"] == case.usage
    stored = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"][-1]
    assert stored["text"] == TEXT and stored["finish_reason"] == case.finish and stored["usage"] == case.usage
    assert stored["model"]["model_id"] == case.model and stored["model"]["section"] == config_id
