"""A scene's cast and its group settings: add and remove characters, a character's own preset and
mute, the orchestrator's rule and turn limit (docs/group-scenes.md). Scoped to the account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rolecall.services.characters import NO_SUCH_CHARACTER
from rolecall.services.errors import Conflict, Invalid, NotFound
from rolecall.services.presets import NO_SUCH_PRESET
from rolecall.services.scenes import MAX_CAST, owned_scene
from rolecall.storage.db import Sessions
from rolecall.storage.generation_tables import Preset
from rolecall.storage.scene_tables import Character, SceneCharacter

RULES = ("mention", "round_robin", "model")
MAX_TURN_LIMIT = 20
NOT_IN_CAST = "This character is not in the scene."


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    avatar_color: str
    position: int
    preset_id: str | None
    muted: bool


@dataclass(frozen=True)
class GroupView:
    scene_id: str
    rule: str
    turn_limit: int
    round: int | None  # the position of the person's message whose turns are running; None: idle
    cast: tuple[Member, ...]


async def _members(s: AsyncSession, scene_id: str) -> tuple[Member, ...]:
    rows = await s.execute(
        select(Character.id, Character.name, Character.avatar_color, SceneCharacter.position,
               SceneCharacter.preset_id, SceneCharacter.muted)
        .join(SceneCharacter, SceneCharacter.character_id == Character.id)
        .where(SceneCharacter.scene_id == scene_id).order_by(SceneCharacter.position))
    return tuple(Member(*row) for row in rows)


async def group_view(db: Sessions, account_id: str, scene_id: str) -> GroupView:
    async with db() as s:
        scene = await owned_scene(s, account_id, scene_id)
        return GroupView(scene.id, scene.group_rule, scene.turn_limit, scene.group_round, await _members(s, scene_id))


async def add_member(db: Sessions, account_id: str, scene_id: str, character_id: str,
                     preset_id: str | None = None) -> GroupView:
    """Cast one more of the account's characters (at the end of the order)."""
    async with db.begin() as s:
        await owned_scene(s, account_id, scene_id)
        found = await s.scalar(select(Character.id).where(Character.id == character_id,
                                                           Character.account_id == account_id))
        if found is None:
            raise NotFound(NO_SUCH_CHARACTER)
        cast = await _members(s, scene_id)
        if any(m.id == character_id for m in cast):
            raise Conflict("This character is already in the scene.", field="character_id")
        if len(cast) >= MAX_CAST:
            raise Invalid(f"A scene can have at most {MAX_CAST} characters.", field="character_id")
        if preset_id is not None:
            await _check_preset(s, account_id, preset_id)
        last = await s.scalar(select(func.max(SceneCharacter.position)).where(SceneCharacter.scene_id == scene_id))
        s.add(SceneCharacter(scene_id=scene_id, character_id=character_id, account_id=account_id,
                             position=0 if last is None else last + 1, preset_id=preset_id, muted=False))
    return await group_view(db, account_id, scene_id)


async def remove_member(db: Sessions, account_id: str, scene_id: str, character_id: str) -> GroupView:
    """Take a character out of the scene (its earlier lines stay); the last one stays."""
    async with db.begin() as s:
        await owned_scene(s, account_id, scene_id)
        member = await _member(s, scene_id, character_id)
        if len(await _members(s, scene_id)) <= 1:
            raise Invalid("A scene keeps at least one character.", field="character_id")
        await s.delete(member)
    return await group_view(db, account_id, scene_id)


async def update_member(db: Sessions, account_id: str, scene_id: str, character_id: str,
                        changes: dict[str, Any]) -> GroupView:
    """``preset_id`` (None: the scene's) and/or ``muted``."""
    async with db.begin() as s:
        await owned_scene(s, account_id, scene_id)
        member = await _member(s, scene_id, character_id)
        if "preset_id" in changes:
            if changes["preset_id"] is not None:
                await _check_preset(s, account_id, changes["preset_id"])
            member.preset_id = changes["preset_id"]
        if "muted" in changes:
            member.muted = bool(changes["muted"])
    return await group_view(db, account_id, scene_id)


async def update_group(db: Sessions, account_id: str, scene_id: str, changes: dict[str, Any]) -> GroupView:
    """The orchestrator's ``rule`` and ``turn_limit`` (turns after each of the person's messages)."""
    async with db.begin() as s:
        scene = await owned_scene(s, account_id, scene_id)
        if "rule" in changes:
            scene.group_rule = check_rule(changes["rule"])
        if "turn_limit" in changes:
            scene.turn_limit = check_turn_limit(changes["turn_limit"])
    return await group_view(db, account_id, scene_id)


def check_rule(rule: Any) -> str:
    if rule not in RULES:
        raise Invalid("Pick one of: " + ", ".join(RULES) + ".", field="rule")
    return str(rule)


def check_turn_limit(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TURN_LIMIT:
        raise Invalid(f"The turn limit is a number from 1 to {MAX_TURN_LIMIT}.", field="turn_limit")
    return value


async def _member(s: AsyncSession, scene_id: str, character_id: str) -> SceneCharacter:
    member = await s.get(SceneCharacter, (scene_id, character_id))
    if member is None:
        raise NotFound(NOT_IN_CAST)
    return member


async def _check_preset(s: AsyncSession, account_id: str, preset_id: str) -> None:
    found = await s.scalar(select(Preset.id).where(Preset.id == preset_id, Preset.account_id == account_id))
    if found is None:
        raise NotFound(NO_SUCH_PRESET)

