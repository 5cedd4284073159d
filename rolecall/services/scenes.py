"""Scenes: where a person chats with characters. Every query is scoped to the account.

A scene has a cast (`scene_character`; solo scenes have one character), a chosen model
(`model_section` is a provider config id or "premiere", plus the model id) and messages. The
character's first message opens the scene as its first assistant message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rolecall.services.characters import NO_SUCH_CHARACTER
from rolecall.services.errors import Invalid, NotFound
from rolecall.services.scene_views import (
    PREMIERE,
    CastView,
    ConfigName,
    SceneSummary,
    SceneView,
    message_view,
    model_view,
)
from rolecall.storage.db import Sessions, rowcount
from rolecall.storage.scene_tables import Character, Message, MessageAlternative, Scene, SceneCharacter
from rolecall.storage.tables import ProviderConfig, utcnow

MAX_TITLE = 200
MAX_DESCRIPTION = 4000
MAX_CAST = 8  # a group scene's cast (docs/group-scenes.md)
MAX_MODEL_ID = 256
PREVIEW = 140
NO_SUCH_SCENE = "No such scene."


def _check_text(title: str, description: str) -> tuple[str, str]:
    title, description = " ".join(title.split()), description.strip()
    if not title:
        raise Invalid("Give the scene a title.", field="title")
    if len(title) > MAX_TITLE:
        raise Invalid(f"Titles can be at most {MAX_TITLE} characters.", field="title")
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"Descriptions can be at most {MAX_DESCRIPTION} characters.", field="description")
    return title, description


async def owned_scene(s: AsyncSession, account_id: str, scene_id: str) -> Scene:
    scene = await s.scalar(select(Scene).where(Scene.id == scene_id, Scene.account_id == account_id))
    if scene is None:
        raise NotFound(NO_SUCH_SCENE)
    return scene


async def config_names(s: AsyncSession, account_id: str) -> dict[str, ConfigName]:
    rows = await s.execute(select(ProviderConfig.id, ProviderConfig.label, ProviderConfig.provider_id,
                                  ProviderConfig.privacy_mode).where(ProviderConfig.account_id == account_id))
    return {r.id: ConfigName(r.label, r.provider_id, r.privacy_mode) for r in rows}


async def cast_of(s: AsyncSession, scene_ids: Sequence[str]) -> dict[str, list[Character]]:
    rows = await s.execute(
        select(SceneCharacter.scene_id, Character).join(Character, Character.id == SceneCharacter.character_id)
        .where(SceneCharacter.scene_id.in_(scene_ids)).order_by(SceneCharacter.position)
    )
    cast: dict[str, list[Character]] = defaultdict(list)
    for scene_id, character in rows:
        cast[scene_id].append(character)
    return cast


# --- listing and reading ---------------------------------------------------------------------

async def list_scenes(db: Sessions, account_id: str) -> list[SceneSummary]:
    """The account's scenes, most recent activity first, with the last message as a preview."""
    async with db() as s:
        scenes = list(await s.scalars(
            select(Scene).where(Scene.account_id == account_id).order_by(Scene.last_activity_at.desc(), Scene.id)))
        ids = [scene.id for scene in scenes]
        cast = await cast_of(s, ids) if ids else {}
        previews = await _previews(s, ids) if ids else {}
        configs = await config_names(s, account_id)
    return [
        SceneSummary(scene.id, scene.title, scene.description, tuple(CastView.of(c) for c in cast.get(scene.id, [])),
                     model_view(scene.model_section, scene.model_id, configs), scene.last_activity_at,
                     previews.get(scene.id, ""), scene.created_at, scene.updated_at)
        for scene in scenes
    ]


async def _previews(s: AsyncSession, scene_ids: list[str]) -> dict[str, str]:
    last = (select(Message.scene_id, func.max(Message.position).label("pos"))
            .where(Message.scene_id.in_(scene_ids)).group_by(Message.scene_id).subquery())
    rows = await s.execute(
        select(Message.scene_id, MessageAlternative.text)
        .join(last, (last.c.scene_id == Message.scene_id) & (last.c.pos == Message.position))
        .join(MessageAlternative, (MessageAlternative.message_id == Message.id) & (MessageAlternative.idx == Message.active))
    )
    return {scene_id: _preview(text) for scene_id, text in rows}


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


async def get_scene(db: Sessions, account_id: str, scene_id: str) -> SceneView:
    async with db() as s:
        return await _scene_view(s, await owned_scene(s, account_id, scene_id))


async def _scene_view(s: AsyncSession, scene: Scene) -> SceneView:
    cast = (await cast_of(s, [scene.id])).get(scene.id, [])
    configs = await config_names(s, scene.account_id)
    rows = await s.execute(
        select(Message, MessageAlternative).join(MessageAlternative, MessageAlternative.message_id == Message.id)
        .where(Message.scene_id == scene.id).order_by(Message.position, Message.created_at, MessageAlternative.idx)
    )
    grouped: dict[str, tuple[Message, list[MessageAlternative]]] = {}
    for message, alt in rows:
        grouped.setdefault(message.id, (message, []))[1].append(alt)
    messages = tuple(message_view(m, alts, configs) for m, alts in grouped.values())
    return SceneView(scene.id, scene.title, scene.description, tuple(CastView.of(c) for c in cast),
                     model_view(scene.model_section, scene.model_id, configs), messages,
                     scene.last_activity_at, scene.created_at, scene.updated_at)


# --- creating, editing, deleting -------------------------------------------------------------

async def create_scene(db: Sessions, account_id: str, title: str | None, character_ids: Sequence[str] = (),
                       description: str = "") -> SceneView:
    """A scene with its cast; the first character's first message opens it. Without a title the
    scene is named after the cast."""
    ids = list(dict.fromkeys(character_ids))
    if len(ids) > MAX_CAST:
        raise Invalid(f"A scene can have at most {MAX_CAST} characters.", field="character_ids")
    async with db.begin() as s:
        found = {c.id: c for c in await s.scalars(
            select(Character).where(Character.id.in_(ids), Character.account_id == account_id))} if ids else {}
        if len(found) != len(ids):
            raise NotFound(NO_SUCH_CHARACTER)
        cast = [found[i] for i in ids]
        name = title if title and title.strip() else ", ".join(c.name for c in cast)
        title, description = _check_text(name, description)
        scene = Scene(account_id=account_id, title=title, description=description, last_activity_at=utcnow())
        s.add(scene)
        await s.flush()
        for position, character in enumerate(cast):
            s.add(SceneCharacter(scene_id=scene.id, character_id=character.id, account_id=account_id, position=position))
        if cast and cast[0].first_message:
            opening = Message(scene_id=scene.id, account_id=account_id, position=0, role="assistant",
                              character_id=cast[0].id, active=0)
            s.add(opening)
            await s.flush()
            s.add(MessageAlternative(message_id=opening.id, idx=0, text=cast[0].first_message, status="complete"))
        await s.flush()
        return await _scene_view(s, scene)


async def update_scene(db: Sessions, account_id: str, scene_id: str, changes: dict[str, Any]) -> SceneView:
    """Rename and/or choose the model (``{"section", "model_id"}``; None clears it). The next
    message uses the chosen model: this is the AI wing's "click a row"."""
    async with db.begin() as s:
        scene = await owned_scene(s, account_id, scene_id)
        if "title" in changes:
            scene.title, _ = _check_text(changes["title"] or "", scene.description)
        if "description" in changes:
            _, scene.description = _check_text(scene.title, changes["description"] or "")
        if "model" in changes:
            scene.model_section, scene.model_id = await _checked_model(s, account_id, changes["model"])
        await s.flush()
        return await _scene_view(s, scene)


async def _checked_model(s: AsyncSession, account_id: str, model: dict[str, str] | None) -> tuple[str | None, str | None]:
    if model is None:
        return None, None
    section, model_id = (model.get("section") or "").strip(), (model.get("model_id") or "").strip()
    if not model_id or len(model_id) > MAX_MODEL_ID:
        raise Invalid("Choose a model.", field="model.model_id")
    if section != PREMIERE:
        found = await s.scalar(select(ProviderConfig.id).where(ProviderConfig.id == section,
                                                                 ProviderConfig.account_id == account_id))
        if found is None:
            raise NotFound("No such provider config.")
    return section, model_id


async def delete_scene(db: Sessions, account_id: str, scene_id: str) -> None:
    async with db.begin() as s:
        result = await s.execute(delete(Scene).where(Scene.id == scene_id, Scene.account_id == account_id))
    if not rowcount(result):
        raise NotFound(NO_SUCH_SCENE)
