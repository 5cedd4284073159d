"""Scenes for the post-production pass tests: an owner, a config on the fake, turns written directly."""

from __future__ import annotations

from typing import Any

from rolecall.services import jobs
from rolecall.services.resources import Resources
from rolecall.storage.scene_tables import Message, MessageAlternative
from rolecall.storage.tables import new_id, utcnow
from tests.fakes.server import VALID_KEY
from tests.scene_helpers import Owner, scene_with, server_config

TINY = "tiny-window"  # a model with a small window, so a long scene does not fit


async def small_window_config(res: Resources, owner: Owner, fake: Any) -> str:
    """A Server-Accessible config on the fake whose model list has `TINY` (700 tokens, 100 out)."""
    fake.models.append({"id": TINY, "object": "model", "context_window": 700, "max_completion_tokens": 100})
    config_id = await server_config(owner, "openai", fake.base_url, VALID_KEY)
    await jobs.submit(res, "refresh_models", {"config_id": config_id}, account_id=owner.account_id)
    await res.queue.drain()
    fake.requests.clear()
    return config_id


async def add_turns(res: Resources, account_id: str, scene_id: str, texts: list[str]) -> list[str]:
    """Messages after the scene's first one, alternating the person and the character; their ids."""
    ids = []
    async with res.db.begin() as s:
        for i, text in enumerate(texts):
            message = Message(id=new_id(), scene_id=scene_id, account_id=account_id, position=i + 1,
                              role="user" if i % 2 == 0 else "assistant", active=0, created_at=utcnow())
            s.add_all((message, MessageAlternative(message_id=message.id, idx=0, text=text, status="complete")))
            ids.append(message.id)
    return ids


async def scene_on(owner: Owner, config_id: str, model_id: str = "gpt-4o-mini") -> dict[str, Any]:
    return await scene_with(owner.client, config_id, model_id)
