"""Characters: who a person chats with. Every query is scoped to the account (another account's
character is "no such character")."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from rolecall.services.errors import Invalid, NotFound
from rolecall.storage.db import Sessions, rowcount
from rolecall.storage.scene_tables import Character

MAX_NAME = 80
MAX_TEXT = 20_000  # persona, first message and example dialogue, each
NO_SUCH_CHARACTER = "No such character."
COLOR = re.compile(r"#[0-9a-f]{6}")
# Avatar colours for characters created without one: picked by the name, so it is stable.
PALETTE = ("#b45309", "#be123c", "#7c3aed", "#0369a1", "#047857", "#a16207", "#c2410c", "#4338ca")
TEXT_FIELDS = ("persona", "first_message", "example_dialogue")


@dataclass(frozen=True)
class CharacterView:
    id: str
    name: str
    persona: str
    first_message: str
    example_dialogue: str
    avatar_color: str
    created_at: datetime
    updated_at: datetime

    @property
    def initials(self) -> str:
        return initials(self.name)

    @classmethod
    def of(cls, row: Character) -> CharacterView:
        return cls(row.id, row.name, row.persona, row.first_message, row.example_dialogue, row.avatar_color,
                   row.created_at, row.updated_at)


def initials(name: str) -> str:
    """Up to two letters: the first of the first two words ("Captain Nemo" -> "CN", "Ada" -> "A")."""
    words = [w for w in re.split(r"[\s_.-]+", name) if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def default_color(name: str) -> str:
    return PALETTE[hashlib.sha256(name.encode()).digest()[0] % len(PALETTE)]


def _checked(values: Mapping[str, Any]) -> dict[str, str]:
    """The fields present in ``values``, trimmed and checked; raises `Invalid` naming the field."""
    out: dict[str, str] = {}
    if "name" in values:
        name = " ".join(str(values["name"] or "").split())
        if not name:
            raise Invalid("Give the character a name.", field="name")
        if len(name) > MAX_NAME:
            raise Invalid(f"Names can be at most {MAX_NAME} characters.", field="name")
        out["name"] = name
    for field in TEXT_FIELDS:
        if field in values:
            text = str(values[field] or "").strip()
            if len(text) > MAX_TEXT:
                raise Invalid(f"This can be at most {MAX_TEXT:,} characters.", field=field)
            out[field] = text
    if values.get("avatar_color"):
        color = str(values["avatar_color"]).lower()
        if not COLOR.fullmatch(color):
            raise Invalid("Pick a colour written as #rrggbb.", field="avatar_color")
        out["avatar_color"] = color
    return out


async def list_characters(db: Sessions, account_id: str) -> list[CharacterView]:
    async with db() as s:
        rows = await s.scalars(select(Character).where(Character.account_id == account_id).order_by(Character.name))
        return [CharacterView.of(row) for row in rows]


async def create(db: Sessions, account_id: str, values: Mapping[str, Any]) -> CharacterView:
    data = _checked({"name": values.get("name"), **{k: v for k, v in values.items() if k != "name"}})
    data.setdefault("avatar_color", default_color(data["name"]))
    row = Character(account_id=account_id, **data)
    async with db.begin() as s:
        s.add(row)
    return CharacterView.of(row)


async def get(db: Sessions, account_id: str, character_id: str) -> CharacterView:
    async with db() as s:
        row = await s.scalar(select(Character).where(Character.id == character_id, Character.account_id == account_id))
    if row is None:
        raise NotFound(NO_SUCH_CHARACTER)
    return CharacterView.of(row)


async def update(db: Sessions, account_id: str, character_id: str, values: Mapping[str, Any]) -> CharacterView:
    data = _checked(values)
    async with db.begin() as s:
        row = await s.scalar(select(Character).where(Character.id == character_id, Character.account_id == account_id))
        if row is None:
            raise NotFound(NO_SUCH_CHARACTER)
        for name, value in data.items():
            setattr(row, name, value)
    return CharacterView.of(row)


async def delete_character(db: Sessions, account_id: str, character_id: str) -> None:
    """Delete a character; scenes it was cast in stay (their messages keep their text)."""
    async with db.begin() as s:
        result = await s.execute(delete(Character).where(Character.id == character_id, Character.account_id == account_id))
    if not rowcount(result):
        raise NotFound(NO_SUCH_CHARACTER)
