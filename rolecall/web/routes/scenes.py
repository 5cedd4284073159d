"""Scenes: the list page, a scene page, and the JSON API. Other accounts' scenes answer 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from rolecall.services import presets, scenes
from rolecall.services.errors import Invalid
from rolecall.web.deps import CurrentAccount, ResourcesDep, render
from rolecall.web.scene_json import SceneOut, SceneSummaryOut

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/scenes", tags=["scenes"])


class SceneIn(BaseModel):
    title: str | None = Field(None, max_length=scenes.MAX_TITLE * 2, description="Named after the cast when left out")
    description: str = Field("", max_length=scenes.MAX_DESCRIPTION * 2)
    character_ids: list[str] = Field(min_length=1, max_length=8, description="One for a solo scene, several for a group scene")


class ModelChoice(BaseModel):
    section: str = Field(max_length=40, description='A provider config id, or "premiere"')
    model_id: str = Field(max_length=scenes.MAX_MODEL_ID)


class ScenePatch(BaseModel):
    title: str | None = Field(None, max_length=scenes.MAX_TITLE * 2)
    description: str | None = Field(None, max_length=scenes.MAX_DESCRIPTION * 2)
    model: ModelChoice | None = Field(None, description="The model the next message uses; null clears it")


class SceneList(BaseModel):
    scenes: list[SceneSummaryOut]


@pages.get("/scenes")
async def scenes_page(request: Request, res: ResourcesDep, account: CurrentAccount) -> Response:
    items = await scenes.list_scenes(res.db, account.id)
    return render(request, "scenes/index.html", account=account, scenes=items, nav="scenes")


@pages.post("/scenes")
async def create_scene_form(
    request: Request, res: ResourcesDep, account: CurrentAccount,
    title: Annotated[str, Form(max_length=scenes.MAX_TITLE * 2)],
    description: Annotated[str, Form(max_length=scenes.MAX_DESCRIPTION * 2)] = "",
) -> Response:
    try:
        if not title.strip():
            raise Invalid("Give the scene a title.", field="title")
        scene = await scenes.create_scene(res.db, account.id, title, (), description)
    except Invalid as exc:
        items = await scenes.list_scenes(res.db, account.id)
        return render(request, "scenes/index.html", status_code=400, account=account, scenes=items,
                      nav="scenes", error=exc.message, title=title, description=description)
    return RedirectResponse(f"/scenes/{scene.id}", status_code=303)


@pages.get("/scenes/{scene_id}")
async def scene_page(request: Request, res: ResourcesDep, account: CurrentAccount, scene_id: str) -> Response:
    scene = await scenes.get_scene(res.db, account.id, scene_id)
    return render(request, "scenes/scene.html", account=account, scene=scene, nav="scenes")


@pages.post("/scenes/{scene_id}/delete")
async def delete_scene_form(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> Response:
    await scenes.delete_scene(res.db, account.id, scene_id)
    return RedirectResponse("/scenes", status_code=303)


@api.get("", response_model=SceneList, summary="Your scenes, most recent activity first")
async def list_scenes(res: ResourcesDep, account: CurrentAccount) -> SceneList:
    return SceneList(scenes=[SceneSummaryOut.of(s) for s in await scenes.list_scenes(res.db, account.id)])


@api.post("", status_code=201, response_model=SceneOut, summary="Create a scene with a character")
async def create_scene(res: ResourcesDep, account: CurrentAccount, body: SceneIn) -> SceneOut:
    if body.title is not None and not body.title.strip():
        raise Invalid("Give the scene a title.", field="title")
    made = await scenes.create_scene(res.db, account.id, body.title, body.character_ids, body.description)
    return SceneOut.of(made, await presets.scene_preset_ref(res.db, account.id, made.id))


@api.get("/{scene_id}", response_model=SceneOut, summary="One of your scenes, with its messages")
async def get_scene(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> SceneOut:
    view = await scenes.get_scene(res.db, account.id, scene_id)
    return SceneOut.of(view, await presets.scene_preset_ref(res.db, account.id, scene_id))


@api.patch("/{scene_id}", response_model=SceneOut, summary="Rename a scene or choose its model")
async def update_scene(res: ResourcesDep, account: CurrentAccount, scene_id: str, body: ScenePatch) -> SceneOut:
    changes = body.model_dump(exclude_unset=True)
    view = await scenes.update_scene(res.db, account.id, scene_id, changes)
    return SceneOut.of(view, await presets.scene_preset_ref(res.db, account.id, scene_id))


@api.delete("/{scene_id}", status_code=204, summary="Delete one of your scenes")
async def delete_scene(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> Response:
    await scenes.delete_scene(res.db, account.id, scene_id)
    return Response(status_code=204)
