"""Stop: the browser aborts the stream. The server notices at once, closes the provider connection,
and keeps the partial reply marked interrupted. A restart leaves no reply stuck "streaming"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from rolecall.config import NetworkSettings, Settings
from rolecall.resources import open_resources
from rolecall.services import turn_writes
from rolecall.services.messages import ReplyTarget
from rolecall.services.turn_writes import Made
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, serving, sign_up
from tests.scene_helpers import parse_sse, scene_with, server_config, set_up_owner

WORDS = " ".join(f"word{n}" for n in range(60))


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))


@pytest.fixture
def live(settings: Settings) -> Iterator[str]:
    """The app under a real uvicorn on a loopback port (a client can really hang up)."""
    with serving(settings) as url:
        yield url


async def test_stop_closes_the_upstream_call_and_keeps_the_partial(live: str, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.reply.text = WORDS
    fake_openai.plan.chunk_delay = 0.1  # ~6 s for the whole reply
    async with httpx.AsyncClient(base_url=live) as client:
        await sign_up(client, "alice")
        owner = await set_up_owner(client)
        config_id = await server_config(owner, "openai", fake_openai.base_url, VALID_KEY)
        scene = await scene_with(client, config_id)
        path = f"/api/scenes/{scene['id']}/messages"
        received = ""
        async with client.stream("POST", path, json={"text": "Count for me."}, headers=await csrf_headers(client)) as response:
            async for chunk in response.aiter_text():
                received += chunk
                if received.count("event: delta") >= 3:
                    break  # Stop: leaving the block closes the connection
        assert await asyncio.to_thread(fake_openai.abandoned.wait, 5), "the provider connection stayed open"
        assert fake_openai.streams_abandoned == 1
        shown = "".join(e.data["t"] for e in parse_sse(received.rsplit("\n\n", 1)[0] + "\n\n") if e.name == "delta")
        reply = None
        for _ in range(100):  # the server writes the partial as it unwinds
            reply = (await client.get(f"/api/scenes/{scene['id']}")).json()["messages"][-1]
            if reply["role"] == "assistant" and reply["status"] != "streaming":
                break
            await asyncio.sleep(0.05)
        assert reply is not None and reply["role"] == "assistant"
        assert reply["status"] == "interrupted" and reply["finish_reason"] == "stopped"
        assert reply["text"].startswith(shown) and WORDS.startswith(reply["text"]) and reply["text"] != WORDS


async def test_restart_marks_unfinished_replies_interrupted(settings: Settings, app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    scene = await scene_with(alice)
    account_id = (await alice.get("/api/me")).json()["id"]
    target = ReplyTarget(scene["id"], account_id, "a" * 24, 0)
    # A process that died mid-stream: the reply row exists, still "streaming".
    await turn_writes.begin_reply(app.state.res.db, target, Made("premiere", "m", None))
    assert (await alice.get(f"/api/scenes/{scene['id']}")).json()["messages"][-1]["status"] == "streaming"
    async with open_resources(settings, consume_jobs=False):
        pass
    assert (await alice.get(f"/api/scenes/{scene['id']}")).json()["messages"][-1]["status"] == "interrupted"
