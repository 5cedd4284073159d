"""Presets: generation settings, a system prompt template and the API Options chain.

A preset's chain is its primary model (position 0) and ordered fallback slots; each slot is a
provider config of the account, or the Premiere Theater, and a model id. The gateway walks it
with `chain(db, settings, account_id, preset_id)`; a slot whose config was deleted stays in
place, marked broken (the gateway skips it with that reason and the editor asks for another
model). A person keeps several presets; one is the default, and a scene may pick another.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rolecall.config import Settings
from rolecall.providers import get
from rolecall.services import connections, premiere, samplers
from rolecall.services.errors import Conflict, Invalid, NotFound
from rolecall.storage import direct
from rolecall.storage.db import Sessions
from rolecall.storage.tables import Preset, PresetSlot, ProviderConfig, Scene, ScenePreset, utcnow

MAX_SLOTS = 8
MAX_PROMPT = 20_000
MAX_STOPS = 16
NO_SUCH_PRESET = "No such preset."
BROKEN = "The provider config of this slot was deleted; pick another model."
# name -> (type, low, high): None means "the provider's default".
SAMPLERS: Mapping[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "top_p": (float, 0.0, 1.0),
    "top_k": (int, 0, 1000),
    "min_p": (float, 0.0, 1.0),
    "max_tokens": (int, 1, 200_000),
    "repetition_penalty": (float, 0.0, 3.0),
    "presence_penalty": (float, -2.0, 2.0),
    "frequency_penalty": (float, -2.0, 2.0),
}
PLACEHOLDERS = ("char", "user", "persona", "scene")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")


@dataclass(frozen=True)
class SlotInput:
    section: str  # a provider config id, or "premiere"
    model_id: str


@dataclass(frozen=True)
class Slot:
    """One entry of a chain, as the gateway and the editor see it."""

    position: int
    kind: str  # config | premiere
    section: str  # the config id ("" when its config was deleted) or "premiere"
    config_id: str | None
    label: str
    provider_id: str | None
    provider_name: str
    privacy_mode: str | None  # e2e | srv for configs
    model_id: str
    broken: bool
    reason: str


@dataclass(frozen=True)
class PresetView:
    id: str
    name: str
    is_default: bool
    settings: dict[str, Any]
    system_prompt: str
    slots: list[Slot]
    created_at: datetime
    updated_at: datetime


# --- validation -------------------------------------------------------------------------------

def check_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The sampler settings, checked: known names, numbers in range, stop sequences as a list."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "stop":
            out["stop"] = check_stops(value)
            continue
        if name not in SAMPLERS:
            raise Invalid(f"Unknown setting {name!r}.", field=f"settings.{name}")
        if value is None:
            continue
        kind, low, high = SAMPLERS[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Invalid(f"{name} must be a number.", field=f"settings.{name}")
        if kind is int and value != int(value):
            raise Invalid(f"{name} must be a whole number.", field=f"settings.{name}")
        if not low <= value <= high:
            raise Invalid(f"{name} must be between {low:g} and {high:g}.", field=f"settings.{name}")
        out[name] = int(value) if kind is int else float(value)
    return out


def check_stops(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("Stop sequences must be a list of text.", field="settings.stop")
    stops = [v for v in value if v]
    if len(stops) > MAX_STOPS or any(len(v) > 200 for v in stops):
        raise Invalid(f"At most {MAX_STOPS} stop sequences of up to 200 characters.", field="settings.stop")
    return stops


def check_prompt(template: str) -> str:
    if len(template) > MAX_PROMPT:
        raise Invalid(f"The system prompt is longer than {MAX_PROMPT} characters.", field="system_prompt")
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - set(PLACEHOLDERS))
    if unknown:
        names = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
        raise Invalid(f"Unknown placeholder {{{{{unknown[0]}}}}}; use {names}.", field="system_prompt")
    return template


def render_prompt(template: str, values: Mapping[str, str]) -> str:
    """The system prompt with ``{{char}}``, ``{{user}}``, ``{{persona}}``, ``{{scene}}`` filled in."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)


def check_name(name: str) -> str:
    text = " ".join(name.split())
    if not 1 <= len(text) <= 80:
        raise Invalid("Give the preset a name of 1 to 80 characters.", field="name")
    return text


async def _check_slots(s: AsyncSession, settings: Settings, account_id: str, slots: Sequence[SlotInput]) -> list[PresetSlot]:
    if len(slots) > MAX_SLOTS:
        raise Invalid(f"A chain holds at most {MAX_SLOTS} models.", field="slots")
    ids = {slot.section for slot in slots if slot.section != premiere.SECTION}
    labels = dict((await s.execute(select(ProviderConfig.id, ProviderConfig.label).where(
        ProviderConfig.account_id == account_id, ProviderConfig.id.in_(ids)))).all()) if ids else {}
    offered = {m.id for m in premiere.offered(settings)}
    rows, seen = [], set()
    for position, slot in enumerate(slots):
        model = slot.model_id.strip()
        if not model or len(model) > 256:
            raise Invalid("Pick a model for every slot.", field=f"slots.{position}.model_id")
        if (slot.section, model) in seen:
            raise Invalid("The same model appears twice in the chain.", field=f"slots.{position}")
        seen.add((slot.section, model))
        if slot.section == premiere.SECTION:
            if model not in offered:
                raise Invalid(f"The Premiere Theater does not offer {model!r}.", field=f"slots.{position}.model_id")
            rows.append(PresetSlot(position=position, account_id=account_id, kind="premiere", config_id=None,
                                   config_label=premiere.LABEL, model_id=model))
        elif slot.section in labels:
            rows.append(PresetSlot(position=position, account_id=account_id, kind="config", config_id=slot.section,
                                   config_label=labels[slot.section], model_id=model))
        else:  # another account's config reads exactly like one that does not exist
            raise NotFound("No such provider config.", field=f"slots.{position}.section")
    return rows


# --- reading ----------------------------------------------------------------------------------

def _slot_view(row: Any) -> Slot:
    """A slot from a row of `_SLOT_COLUMNS` (its config's columns are None when the config was deleted)."""
    if row.kind == "premiere":
        return Slot(row.position, "premiere", premiere.SECTION, None, premiere.LABEL, None, premiere.LABEL, None,
                    row.model_id, False, "")
    if row.id is None:
        return Slot(row.position, "config", "", None, row.config_label, None, "", None, row.model_id, True, BROKEN)
    return Slot(row.position, "config", row.id, row.id, row.label, row.provider_id,
                get(row.provider_id).name, row.privacy_mode, row.model_id, False, "")


# Plain columns, built once with bind parameters (as `messages.read_turn`): a chain is read without
# building a statement or making ORM objects; a config's columns are what opening it needs.
_SLOT = cast(Table, PresetSlot.__table__).c
_SLOT_COLUMNS = (_SLOT.preset_id, _SLOT.position, _SLOT.kind, _SLOT.config_label, _SLOT.model_id, *connections.COLUMNS)
_SLOTS_FROM = cast(Table, PresetSlot.__table__).outerjoin(cast(Table, ProviderConfig.__table__),
                                                         connections.COLUMNS[0] == _SLOT.config_id)
_ALL_SLOTS = (select(*_SLOT_COLUMNS).select_from(_SLOTS_FROM)
              .where(_SLOT.preset_id.in_(bindparam("presets", expanding=True)))
              .order_by(_SLOT.preset_id, _SLOT.position))
_OWN_SLOTS = _ALL_SLOTS.where(_SLOT.account_id == bindparam("account"))


async def _slots(s: AsyncSession, preset_ids: Sequence[str], account_id: str | None = None) -> dict[str, list[Slot]]:
    """The slots of these presets (only the account's slots when ``account_id`` is given)."""
    found: dict[str, list[Slot]] = {pid: [] for pid in preset_ids}
    if not preset_ids:
        return found
    if account_id is None:
        rows = await s.execute(_ALL_SLOTS, {"presets": list(preset_ids)})
    else:
        rows = await s.execute(_OWN_SLOTS, {"presets": list(preset_ids), "account": account_id})
    for row in rows:
        found[row.preset_id].append(_slot_view(row))
    return found


def _view(row: Preset, slots: list[Slot]) -> PresetView:
    return PresetView(row.id, row.name, row.is_default, dict(row.settings), row.system_prompt, slots,
                      row.created_at, row.updated_at)


async def _owned(s: AsyncSession, account_id: str, preset_id: str) -> Preset:
    row = await s.scalar(select(Preset).where(Preset.id == preset_id, Preset.account_id == account_id))
    if row is None:
        raise NotFound(NO_SUCH_PRESET)
    return row


async def list_presets(db: Sessions, account_id: str) -> list[PresetView]:
    async with db() as s:
        rows = list(await s.scalars(select(Preset).where(Preset.account_id == account_id)
                                    .order_by(Preset.is_default.desc(), Preset.name)))
        slots = await _slots(s, [r.id for r in rows])
    return [_view(r, slots[r.id]) for r in rows]


async def get_preset(db: Sessions, account_id: str, preset_id: str) -> PresetView:
    async with db() as s:
        row = await _owned(s, account_id, preset_id)
        return _view(row, (await _slots(s, [row.id]))[row.id])


def unsupported(settings: Settings, view: PresetView) -> list[tuple[str, ...]]:
    """Per slot, the preset's settings its provider has no field for: they are not sent to it."""
    notes = []
    for slot in view.slots:
        provider_id = slot.provider_id
        if slot.kind == "premiere":
            try:
                upstream = premiere.find(settings, slot.model_id).upstream
            except NotFound:
                upstream = ""
            provider_id = next((u.provider for u in settings.premiere.upstreams if u.id == upstream), None)
        notes.append(samplers.unsupported(view.settings, get(provider_id)) if provider_id else ())
    return notes


async def chain(db: Sessions, account_id: str, preset_id: str) -> list[Slot]:
    """The preset's models in the order the gateway tries them (broken slots included, flagged).

    One query on the hot path: the slots are the account's own; only an empty answer needs the
    second look (an empty chain, or no such preset: `NotFound`)."""
    async with db() as s:
        slots = (await _slots(s, [preset_id], account_id))[preset_id]
        if not slots:
            await _owned(s, account_id, preset_id)
        return slots


def chain_query(preset_id: ColumnElement[Any]) -> direct.Query:
    """The account's slots of one preset (``preset_id``: a bind parameter, or a scalar subquery
    naming it) with the configs they name, for `chain_read`: straight on the driver, so a turn's
    chain costs no session (docs/decisions.md, "A turn's chain on the driver")."""
    return direct.Query(select(*_SLOT_COLUMNS).select_from(_SLOTS_FROM)
                        .where(_SLOT.preset_id == preset_id, _SLOT.account_id == bindparam("account"))
                        .order_by(_SLOT.position))


async def chain_read(db: Sessions, query: direct.Query, values: Mapping[str, Any],
                     configs: dict[str, connections.StoredRow]) -> list[Slot]:
    """`chain` for a preset the caller reads beside it (a `chain_query`; an empty chain needs no
    second look); the account's configs the slots name go into ``configs``, so opening them costs
    no query."""
    slots = []
    for row in await direct.rows(db, query, values):
        slots.append(_slot_view(row))
        if row.id is not None and row.account_id == values["account"]:
            configs[row.id] = row
    return slots


# --- writing ----------------------------------------------------------------------------------

async def create(db: Sessions, settings: Settings, account_id: str, *, name: str, values: Mapping[str, Any] | None = None,
                 system_prompt: str = "", slots: Sequence[SlotInput] = (), is_default: bool = False) -> PresetView:
    clean_name, clean_values, prompt = check_name(name), check_settings(values or {}), check_prompt(system_prompt)
    async with db.begin() as s:
        await _check_name_free(s, account_id, clean_name)
        first = await s.scalar(select(Preset.id).where(Preset.account_id == account_id).limit(1)) is None
        row = Preset(account_id=account_id, name=clean_name, settings=clean_values, system_prompt=prompt,
                     is_default=is_default or first)
        s.add(row)
        await s.flush()
        if row.is_default:
            await _only_default(s, account_id, row.id)
        for slot in await _check_slots(s, settings, account_id, slots):
            slot.preset_id = row.id
            s.add(slot)
    return await get_preset(db, account_id, row.id)


async def update_preset(db: Sessions, settings: Settings, account_id: str, preset_id: str, changes: Mapping[str, Any]) -> PresetView:
    """Apply ``changes`` (any of name, settings, system_prompt, slots, is_default); ``slots``
    replaces the whole chain, so reordering, removing and adding are one request."""
    async with db.begin() as s:
        row = await _owned(s, account_id, preset_id)
        if "name" in changes:
            name = check_name(changes["name"])
            if name.lower() != row.name.lower():
                await _check_name_free(s, account_id, name)
            row.name = name
        if "settings" in changes:
            row.settings = check_settings(changes["settings"] or {})
        if "system_prompt" in changes:
            row.system_prompt = check_prompt(changes["system_prompt"] or "")
        if changes.get("is_default"):
            row.is_default = True
            await _only_default(s, account_id, row.id)
        if "slots" in changes:
            new_slots = await _check_slots(s, settings, account_id, changes["slots"])
            await s.execute(delete(PresetSlot).where(PresetSlot.preset_id == row.id))
            for slot in new_slots:
                slot.preset_id = row.id
                s.add(slot)
        row.updated_at = utcnow()  # a chain-only edit changes no preset column, but it is an edit
    return await get_preset(db, account_id, preset_id)


async def delete_preset(db: Sessions, account_id: str, preset_id: str) -> None:
    async with db.begin() as s:
        row = await _owned(s, account_id, preset_id)
        was_default = row.is_default
        await s.delete(row)
        await s.flush()
        if was_default:  # someone must be the default while presets remain: the oldest one
            heir = await s.scalar(select(Preset).where(Preset.account_id == account_id).order_by(Preset.created_at).limit(1))
            if heir is not None:
                heir.is_default = True


async def _only_default(s: AsyncSession, account_id: str, preset_id: str) -> None:
    await s.execute(update(Preset).where(Preset.account_id == account_id, Preset.id != preset_id).values(is_default=False))


async def _check_name_free(s: AsyncSession, account_id: str, name: str) -> None:
    names = await s.scalars(select(Preset.name).where(Preset.account_id == account_id))
    if any(n.lower() == name.lower() for n in names):
        raise Conflict(f"You already have a preset named {name!r}.", field="name")


# --- scenes -----------------------------------------------------------------------------------

async def scene_preset_id(db: Sessions, account_id: str, scene_id: str) -> str | None:
    """The preset a scene uses: its own choice, else the account's default (None: no presets)."""
    async with db() as s:
        chosen = await s.scalar(select(ScenePreset.preset_id).where(
            ScenePreset.scene_id == scene_id, ScenePreset.account_id == account_id))
        if chosen is not None:
            return chosen
        found: str | None = await s.scalar(select(Preset.id).where(Preset.account_id == account_id, Preset.is_default))
        return found


async def scene_preset(db: Sessions, account_id: str, scene_id: str) -> tuple[str | None, bool]:
    """(preset id, whether the scene picked it) for one of the account's scenes; `NotFound` otherwise."""
    async with db() as s:
        if await s.scalar(select(Scene.id).where(Scene.id == scene_id, Scene.account_id == account_id)) is None:
            raise NotFound("No such scene.")
        chosen = await s.scalar(select(ScenePreset.preset_id).where(ScenePreset.scene_id == scene_id))
    if chosen is not None:
        return chosen, True
    return await scene_preset_id(db, account_id, scene_id), False


@dataclass(frozen=True)
class ScenePresetRef:
    """The preset a scene uses, for the scene page's picker."""

    id: str
    name: str
    chosen: bool  # False: the account's default, not the scene's own pick


async def scene_preset_ref(db: Sessions, account_id: str, scene_id: str) -> ScenePresetRef | None:
    """The scene's preset with its name (None: the account has no presets); `NotFound` for another's scene."""
    preset_id, chosen = await scene_preset(db, account_id, scene_id)
    if preset_id is None:
        return None
    async with db() as s:
        name = await s.scalar(select(Preset.name).where(Preset.id == preset_id, Preset.account_id == account_id))
    return ScenePresetRef(preset_id, name, chosen) if name is not None else None


async def set_scene_preset(db: Sessions, account_id: str, scene_id: str, preset_id: str | None) -> None:
    """Pick a preset for one scene; None returns the scene to the default preset."""
    async with db.begin() as s:
        scene = await s.scalar(select(Scene.id).where(Scene.id == scene_id, Scene.account_id == account_id))
        if scene is None:
            raise NotFound("No such scene.")
        await s.execute(delete(ScenePreset).where(ScenePreset.scene_id == scene_id))
        if preset_id is not None:
            await _owned(s, account_id, preset_id)
            s.add(ScenePreset(scene_id=scene_id, account_id=account_id, preset_id=preset_id))
