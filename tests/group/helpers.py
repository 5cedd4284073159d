"""Helpers for group-scene tests: a scene with several characters, and its events heard live."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from rolecall.services import group_turns
from rolecall.services.resources import Resources
from rolecall.storage.generation_tables import UsageEvent
from tests.fakes.server import VALID_KEY
from tests.helpers import sign_up, until
from tests.scene_helpers import character, patch, post, server_config, set_up_owner


async def group_scene(client: httpx.AsyncClient, names: tuple[str, ...] = ("Ada", "Bram"), *,
                      section: str | None = None, model_id: str = "gpt-4o-mini", rule: str = "round_robin",
                      turn_limit: int = 2) -> dict[str, Any]:
    """A scene with one character per name (no opening line), the model and the orchestrator set."""
    cast = [await character(client, name, first_message="") for name in names]
    created = await post(client, "/api/scenes", {"title": "The tavern", "character_ids": [c["id"] for c in cast]})
    assert created.status_code == 201, created.text
    scene = created.json()
    if section is not None:
        chosen = await patch(client, f"/api/scenes/{scene['id']}", {"model": {"section": section, "model_id": model_id}})
        assert chosen.status_code == 200, chosen.text
    group = await patch(client, f"/api/scenes/{scene['id']}/group", {"rule": rule, "turn_limit": turn_limit})
    assert group.status_code == 200, group.text
    return {**scene, "cast": {c["name"]: c["id"] for c in cast}}


async def say(client: httpx.AsyncClient, scene_id: str, text: str) -> dict[str, Any]:
    response = await post(client, f"/api/scenes/{scene_id}/group/messages", {"text": text})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@dataclass
class Heard:
    events: list[tuple[str, Any]] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[Any]:
        return [data for n, data in self.events if n == name]


@contextlib.asynccontextmanager
async def listening(res: Resources, scene_id: str) -> AsyncIterator[Heard]:
    """Everything published on the scene's channel while the block runs (as the event stream hears it)."""
    heard = Heard()
    kept, _ = await res.pubsub.kept(group_turns.channel(scene_id), None)

    async def collect() -> None:
        async for _, message in res.pubsub.follow(group_turns.channel(scene_id), kept[-1][0] if kept else None):
            heard.events.append((message["e"], message["d"]))

    task = asyncio.create_task(collect())
    try:
        yield heard
    finally:
        await asyncio.sleep(0.05)  # the last publications reach the reader
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def usage_rows(app, account_id: str) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    res = app.state.res
    assert res.usage is not None
    await res.usage.flush()
    async with res.db() as s:
        rows = await s.execute(select(UsageEvent.outcome, UsageEvent.model, UsageEvent.reason)
                               .where(UsageEvent.account_id == account_id).order_by(UsageEvent.at))
        return [tuple(r) for r in rows]  # type: ignore[misc]


@dataclass(frozen=True)
class Frame:
    """One event of `GET /api/scenes/{id}/events` as the browser's EventSource reads it."""

    id: str | None
    name: str
    data: Any


async def watch(client: httpx.AsyncClient, scene_id: str, stop: Callable[[list[Frame]], bool], *,
                last_id: str | None = None) -> list[Frame]:
    """Read the scene's event stream over real HTTP (`tests.helpers.serving`) until ``stop(frames)``,
    then hang up, as a page that closes or loses its connection does."""
    frames: list[Frame] = []
    headers = {"Last-Event-ID": last_id} if last_id else {}

    async def read() -> None:
        async with client.stream("GET", f"/api/scenes/{scene_id}/events", headers=headers) as response:
            assert response.status_code == 200
            buffer = ""
            async for chunk in response.aiter_text():
                buffer += chunk
                *blocks, buffer = buffer.split("\n\n")
                for block in blocks:
                    fields = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":"))
                    if "event" in fields:
                        frames.append(Frame(fields.get("id"), fields["event"], json.loads(fields["data"])))
                        if stop(frames):
                            return

    await asyncio.wait_for(read(), 60)
    return frames


def reply_text(frames: list[Frame]) -> str:
    return "".join(f.data["t"] for f in frames if f.name == "delta")


WORDS = " ".join(f"word{n}" for n in range(40))


async def streaming_scene(client: httpx.AsyncClient, fake) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A group scene whose first turn is being written slowly, its first words already sent."""
    await sign_up(client, "alice")
    owner = await set_up_owner(client)
    config_id = await server_config(owner, "openai", fake.base_url, VALID_KEY)
    scene = await group_scene(client, section=config_id, turn_limit=1)
    fake.reply.text = WORDS
    fake.plan.chunk_delay = 0.1
    await say(client, scene["id"], "Tell us everything.")

    async def begun() -> bool:
        shown = (await client.get(f"/api/scenes/{scene['id']}")).json()["messages"]
        return any(m["role"] == "assistant" and m["status"] == "streaming" for m in shown)

    await until(begun)
    return scene
