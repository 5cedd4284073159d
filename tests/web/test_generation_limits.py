"""A streamed reply holds one of the account's provider-call slots and must start within a deadline."""

from __future__ import annotations

import asyncio

import pytest

from rolecall.config import LimitSettings, NetworkSettings
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.scene_helpers import Owner, only, reply_text, scene_with, server_config, stream

TEXT = "One two three four five six seven eight"


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    network = NetworkSettings(allow_private=["127.0.0.0/8"], read_timeout=5.0)
    return make_settings(network=network, limits=LimitSettings(outbound_per_account=1, first_token_deadline=1.0))



async def roles(owner: Owner, scene: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    stored = (await owner.client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
    return [(m["role"], m["status"]) for m in stored]


async def test_a_reply_beyond_the_accounts_slots_is_refused_and_stores_nothing(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.reply.text = TEXT
    fake_openai.plan.chunk_delay = 0.15  # the first reply runs for about a second and a half
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    first_scene, second_scene = [await scene_with(owner.client, config_id) for _ in range(2)]
    calls = len(fake_openai.requests)
    first = asyncio.create_task(stream(owner.client, f"/api/scenes/{first_scene['id']}/messages", {"text": "Go on."}))
    for _ in range(1000):  # wait until the first reply is streaming: its slot is taken
        if len(fake_openai.requests) > calls:
            break
        await asyncio.sleep(0.01)
    before = await roles(owner, second_scene)
    refused = await stream(owner.client, f"/api/scenes/{second_scene['id']}/messages", {"text": "Hello?"})
    error = only(refused, "error")
    assert error["kind"] == "rate_limited" and error["retryable"] is True and error["retry_after"] == 5
    assert "1 provider calls running already" in error["message"] and error["reply"] is None
    # The one slot was passed over (announced), and not even the person's message was stored.
    assert [e.name for e in refused] == ["skipped", "error"]
    assert await roles(owner, second_scene) == before
    assert reply_text(await first) == TEXT
    # The slot came back when the first reply ended: the same text can be sent again.
    fake_openai.plan.chunk_delay = 0.0
    again = await stream(owner.client, f"/api/scenes/{second_scene['id']}/messages", {"text": "Hello?"})
    assert reply_text(again) == TEXT


async def test_a_model_that_sends_no_text_in_time_is_stopped(owner: Owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    # Reasoning chunks keep bytes flowing (the 5 s read timeout never fires) but no text comes for ~3 s.
    fake_openai.reply.reasoning = " ".join(["hmm"] * 30)
    fake_openai.reply.text = TEXT
    fake_openai.plan.chunk_delay = 0.1
    config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
    scene = await scene_with(owner.client, config_id)
    events = await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": "Think hard."})
    error = only(events, "error")
    assert error["kind"] == "timeout" and error["reply"] is None and "no text within 1 second." in error["message"]
    assert reply_text(events) == ""
    assert (await roles(owner, scene))[-1] == ("user", "complete")  # the message is kept; no empty reply
    # The slot was given back (the account may hold only one).
    fake_openai.reply.reasoning = ""
    assert reply_text(await stream(owner.client, f"/api/scenes/{scene['id']}/messages", {"text": ""})) == TEXT
