"""Helpers for group-scene tests: a scene with several characters, and its events heard live."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from rolecall.services import group_turns
from rolecall.services.resources import Resources
from rolecall.storage.generation_tables import UsageEvent
from tests.scene_helpers import character, patch, post


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
    async with res.pubsub.subscribe(group_turns.channel(scene_id)) as messages:
        async def collect() -> None:
            async for message in messages:
                heard.events.append((message["e"], message["d"]))

        task = asyncio.create_task(collect())
        try:
            yield heard
        finally:
            await asyncio.sleep(0.05)  # the last publications reach the queue
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
