"""Characters over the JSON API. Another account's character answers 404."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from rolecall.services import characters
from rolecall.web.deps import CurrentAccount, ResourcesDep
from rolecall.web.scene_json import CharacterOut

api = APIRouter(prefix="/api/characters", tags=["characters"])
_TEXT = characters.MAX_TEXT * 2  # the service gives the precise message; this only bounds the body


class CharacterIn(BaseModel):
    name: str = Field(max_length=characters.MAX_NAME * 2)
    persona: str = Field("", max_length=_TEXT, description="Who the character is: personality, background, voice")
    first_message: str = Field("", max_length=_TEXT, description="Opens every new scene with this character")
    example_dialogue: str = Field("", max_length=_TEXT, description="Sample exchanges that show the character's style")
    avatar_color: str | None = Field(None, max_length=7, description="#rrggbb; picked from the name when left out")


class CharacterPatch(BaseModel):
    name: str | None = Field(None, max_length=characters.MAX_NAME * 2)
    persona: str | None = Field(None, max_length=_TEXT)
    first_message: str | None = Field(None, max_length=_TEXT)
    example_dialogue: str | None = Field(None, max_length=_TEXT)
    avatar_color: str | None = Field(None, max_length=7)


class CharacterList(BaseModel):
    characters: list[CharacterOut]


@api.get("", response_model=CharacterList, summary="Your characters, by name")
async def list_characters(res: ResourcesDep, account: CurrentAccount) -> CharacterList:
    return CharacterList(characters=[CharacterOut.of(c) for c in await characters.list_characters(res.db, account.id)])


@api.post("", status_code=201, response_model=CharacterOut, summary="Create a character")
async def create_character(res: ResourcesDep, account: CurrentAccount, body: CharacterIn) -> CharacterOut:
    return CharacterOut.of(await characters.create(res.db, account.id, body.model_dump()))


@api.get("/{character_id}", response_model=CharacterOut, summary="One of your characters")
async def get_character(res: ResourcesDep, account: CurrentAccount, character_id: str) -> CharacterOut:
    return CharacterOut.of(await characters.get(res.db, account.id, character_id))


@api.patch("/{character_id}", response_model=CharacterOut, summary="Change a character (only the fields sent)")
async def update_character(res: ResourcesDep, account: CurrentAccount, character_id: str, body: CharacterPatch) -> CharacterOut:
    changes = body.model_dump(exclude_unset=True)
    return CharacterOut.of(await characters.update(res.db, account.id, character_id, changes))


@api.delete("/{character_id}", status_code=204, summary="Delete a character (its scenes stay)")
async def delete_character(res: ResourcesDep, account: CurrentAccount, character_id: str) -> Response:
    await characters.delete_character(res.db, account.id, character_id)
    return Response(status_code=204)
