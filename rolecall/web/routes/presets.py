"""Presets over JSON (settings, system prompt, the API Options chain) and the Presets page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from rolecall.config import Settings
from rolecall.services import presets
from rolecall.services.presets import PresetView, Slot, SlotInput
from rolecall.web.deps import CurrentAccount, ResourcesDep, render
from rolecall.web.routes.settings import TABS
from rolecall.web.scene_json import ScenePresetRefOut

api = APIRouter(prefix="/api", tags=["presets"])
pages = APIRouter(include_in_schema=False)


class SamplersIn(BaseModel):
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    max_tokens: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: list[str] = Field(default_factory=list, max_length=64)


class SlotIn(BaseModel):
    section: str = Field(max_length=40, description='A provider config id, or "premiere"')
    model_id: str = Field(max_length=256)


class PresetIn(BaseModel):
    name: str = Field(max_length=200)
    settings: SamplersIn = Field(default_factory=SamplersIn)
    system_prompt: str = Field("", max_length=presets.MAX_PROMPT + 1)
    slots: list[SlotIn] = Field(default_factory=list, max_length=presets.MAX_SLOTS + 1,
                                description="The primary model first, then the fallbacks in order")
    is_default: bool = False


class PresetPatch(BaseModel):
    name: str | None = Field(None, max_length=200)
    settings: SamplersIn | None = None
    system_prompt: str | None = Field(None, max_length=presets.MAX_PROMPT + 1)
    slots: list[SlotIn] | None = Field(None, max_length=presets.MAX_SLOTS + 1)
    is_default: bool | None = None


class SlotOut(BaseModel):
    position: int
    kind: str
    section: str
    config_id: str | None
    label: str
    provider_name: str
    privacy_mode: str | None
    model_id: str
    broken: bool
    reason: str
    unsupported: list[str] = Field(default_factory=list, description="The preset's settings this slot's provider "
                                   "has no field for: not sent to it (the usage log notes them)")

    @classmethod
    def of(cls, slot: Slot, unsupported: tuple[str, ...] = ()) -> SlotOut:
        return cls(position=slot.position, kind=slot.kind, section=slot.section, config_id=slot.config_id,
                   label=slot.label, provider_name=slot.provider_name, privacy_mode=slot.privacy_mode,
                   model_id=slot.model_id, broken=slot.broken, reason=slot.reason, unsupported=list(unsupported))


class PresetOut(BaseModel):
    id: str
    name: str
    is_default: bool
    settings: dict[str, Any]
    system_prompt: str
    slots: list[SlotOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: PresetView, settings: Settings) -> PresetOut:
        notes = presets.unsupported(settings, view)
        return cls(id=view.id, name=view.name, is_default=view.is_default, settings=view.settings,
                   system_prompt=view.system_prompt, slots=[SlotOut.of(s, n) for s, n in zip(view.slots, notes, strict=True)],
                   created_at=view.created_at, updated_at=view.updated_at)


class PresetList(BaseModel):
    presets: list[PresetOut]
    placeholders: list[str]


class ScenePresetIn(BaseModel):
    preset_id: str | None = Field(None, max_length=24, description="None: use the default preset")


def _samplers(body: SamplersIn) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump().items() if v is not None and (k != "stop" or v)}


def _slots(body: list[SlotIn]) -> list[SlotInput]:
    return [SlotInput(s.section, s.model_id) for s in body]


@api.get("/presets", summary="Your presets, the default first")
async def list_presets(res: ResourcesDep, account: CurrentAccount) -> PresetList:
    found = await presets.list_presets(res.db, account.id)
    return PresetList(presets=[PresetOut.of(p, res.settings) for p in found], placeholders=list(presets.PLACEHOLDERS))


@api.post("/presets", status_code=201, summary="Create a preset")
async def create_preset(res: ResourcesDep, account: CurrentAccount, body: PresetIn) -> PresetOut:
    made = await presets.create(res.db, res.settings, account.id, name=body.name, values=_samplers(body.settings),
                                system_prompt=body.system_prompt, slots=_slots(body.slots), is_default=body.is_default)
    return PresetOut.of(made, res.settings)


@api.get("/presets/{preset_id}", summary="One preset")
async def get_preset(res: ResourcesDep, account: CurrentAccount, preset_id: str) -> PresetOut:
    return PresetOut.of(await presets.get_preset(res.db, account.id, preset_id), res.settings)


@api.patch("/presets/{preset_id}", summary="Change a preset; `slots` replaces the whole chain (reorder, remove, add)")
async def update_preset(res: ResourcesDep, account: CurrentAccount, preset_id: str, body: PresetPatch) -> PresetOut:
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.settings is not None:
        changes["settings"] = _samplers(body.settings)
    if body.system_prompt is not None:
        changes["system_prompt"] = body.system_prompt
    if body.slots is not None:
        changes["slots"] = _slots(body.slots)
    if body.is_default:
        changes["is_default"] = True
    return PresetOut.of(await presets.update_preset(res.db, res.settings, account.id, preset_id, changes), res.settings)


@api.delete("/presets/{preset_id}", status_code=204, summary="Delete a preset")
async def delete_preset(res: ResourcesDep, account: CurrentAccount, preset_id: str) -> Response:
    await presets.delete_preset(res.db, account.id, preset_id)
    return Response(status_code=204)


@api.get("/presets/{preset_id}/chain", summary="The models a generation with this preset tries, in order")
async def preset_chain(res: ResourcesDep, account: CurrentAccount, preset_id: str) -> list[SlotOut]:
    return [SlotOut.of(s) for s in await presets.chain(res.db, account.id, preset_id)]


class ScenePresetOut(BaseModel):
    preset_id: str | None = Field(description="The preset the scene uses (its own pick, else your default)")
    chosen: bool = Field(description="True when the scene picked it; False when it falls back to the default")


@api.get("/scene-presets/{scene_id}", summary="The preset a scene uses")
async def get_scene_preset(res: ResourcesDep, account: CurrentAccount, scene_id: str) -> ScenePresetOut:
    preset_id, chosen = await presets.scene_preset(res.db, account.id, scene_id)
    return ScenePresetOut(preset_id=preset_id, chosen=chosen)


@api.put("/scene-presets/{scene_id}", status_code=204, summary="Pick the preset a scene uses")
async def set_scene_preset(res: ResourcesDep, account: CurrentAccount, scene_id: str, body: ScenePresetIn) -> Response:
    await presets.set_scene_preset(res.db, account.id, scene_id, body.preset_id)
    return Response(status_code=204)


class ScenePresetChoice(BaseModel):
    preset: ScenePresetRefOut | None = Field(description="The preset the scene now uses; None when you have no presets")


@api.put("/scenes/{scene_id}/preset", summary="Pick the preset (and fallback chain) a scene uses; null: your default")
async def choose_scene_preset(res: ResourcesDep, account: CurrentAccount, scene_id: str,
                              body: ScenePresetIn) -> ScenePresetChoice:
    await presets.set_scene_preset(res.db, account.id, scene_id, body.preset_id)
    ref = await presets.scene_preset_ref(res.db, account.id, scene_id)
    return ScenePresetChoice(preset=ScenePresetRefOut(id=ref.id, name=ref.name, chosen=ref.chosen) if ref else None)


@pages.get("/presets")
async def presets_page(request: Request, account: CurrentAccount) -> Response:
    return render(request, "presets/index.html", account=account, tab="presets", tabs=TABS, nav="settings")
