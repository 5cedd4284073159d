"""Scenes: the list page, a scene page, and the JSON API. Other accounts' scenes answer 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from rolecall.services import scenes
from rolecall.services.errors import Invalid
from rolecall.services.scenes import SceneView
from rolecall.web.deps import CurrentAccount, ResourcesDep, render

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/scenes", tags=["scenes"])


class SceneIn(BaseModel):
    title: str = Field(max_length=scenes.MAX_TITLE * 2)
    description: str = Field("", max_length=scenes.MAX_DESCRIPTION * 2)


class SceneOut(BaseModel):
    id: str
    title: str
    description: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, scene: SceneView) -> SceneOut:
        return cls(id=scene.id, title=scene.title, description=scene.description,
                   created_at=scene.created_at.isoformat(), updated_at=scene.updated_at.isoformat())


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
        scene = await scenes.create_scene(res.db, account.id, title, description)
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


@api.get("", response_model=list[SceneOut], summary="List your scenes, most recent first")
async def list_scenes(res: ResourcesDep, account: CurrentAccount) -> list[SceneOut]:
    return [SceneOut.of(s) for s in await scenes.list_scenes(res.db, account.id)]


@api.post("", status_code=201, response_model=SceneOut, summary="Create a scene")
async def create_scene(res: ResourcesDep, account: CurrentAccount, body: SceneIn) -> SceneOut:
    return SceneOut.of(await scenes.create_scene(res.db, account.id, body.title, body.description))


@api.get("/{scene_id}", response_model=SceneOut, summary="One of your scenes")
async def get_scene(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> SceneOut:
    return SceneOut.of(await scenes.get_scene(res.db, account.id, scene_id))


@api.delete("/{scene_id}", status_code=204, summary="Delete one of your scenes")
async def delete_scene(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> Response:
    await scenes.delete_scene(res.db, account.id, scene_id)
    return Response(status_code=204)
