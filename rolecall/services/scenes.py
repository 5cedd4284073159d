"""Scenes: where a person chats with characters. Every query is scoped to the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from rolecall.services.errors import Invalid, NotFound
from rolecall.storage.db import Sessions
from rolecall.storage.tables import Scene

MAX_TITLE = 200
MAX_DESCRIPTION = 4000


@dataclass(frozen=True)
class SceneView:
    id: str
    title: str
    description: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, scene: Scene) -> SceneView:
        return cls(scene.id, scene.title, scene.description, scene.created_at, scene.updated_at)


async def list_scenes(db: Sessions, account_id: str) -> list[SceneView]:
    async with db() as s:
        rows = await s.scalars(
            select(Scene).where(Scene.account_id == account_id).order_by(Scene.updated_at.desc())
        )
        return [SceneView.of(row) for row in rows]


async def create_scene(db: Sessions, account_id: str, title: str, description: str = "") -> SceneView:
    title, description = title.strip(), description.strip()
    if not title:
        raise Invalid("Give the scene a title.", field="title")
    if len(title) > MAX_TITLE:
        raise Invalid(f"Titles can be at most {MAX_TITLE} characters.", field="title")
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"Descriptions can be at most {MAX_DESCRIPTION} characters.", field="description")
    scene = Scene(account_id=account_id, title=title, description=description)
    async with db.begin() as s:
        s.add(scene)
    return SceneView.of(scene)


async def get_scene(db: Sessions, account_id: str, scene_id: str) -> SceneView:
    async with db() as s:
        scene = await s.scalar(select(Scene).where(Scene.id == scene_id, Scene.account_id == account_id))
    if scene is None:
        raise NotFound("No such scene.")
    return SceneView.of(scene)


async def delete_scene(db: Sessions, account_id: str, scene_id: str) -> None:
    async with db.begin() as s:
        result = await s.execute(delete(Scene).where(Scene.id == scene_id, Scene.account_id == account_id))
    if not result.rowcount:
        raise NotFound("No such scene.")
