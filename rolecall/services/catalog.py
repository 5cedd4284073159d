"""The model catalog: every model a person can use, by provider section, with stars and search.

Cached lists are served at once; a list older than ``model_list_max_age_hours`` is refreshed by
a background job (Server-Accessible configs only: the server cannot open an E2E key), never
blocking the page. A refresh that fails keeps the last good list and says why. Rows are merged
with curated facts once per (config, list version) and kept in a small in-process cache, so a
search over thousands of models only filters precomputed rows.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from rolecall.providers import ModelInfo, ProviderError, explain, facts, get, protocol_for
from rolecall.services import connections
from rolecall.services.errors import Invalid, NotFound
from rolecall.services.key_checks import model_rows
from rolecall.services.resources import Resources
from rolecall.storage.db import Sessions
from rolecall.storage.tables import ModelStar, ProviderConfig, utcnow

log = logging.getLogger(__name__)
PREMIERE = "premiere"
_MERGED: OrderedDict[tuple[str, str], list[Entry]] = OrderedDict()
_MERGED_LIMIT = 256


@dataclass(frozen=True, slots=True)
class Entry:
    """One merged model, ready to send: ``tail`` is its JSON object without the opening brace,
    so a request only prepends the per-person fields (starred, section) instead of re-encoding."""

    id: str
    haystack: str
    tail: str


@dataclass(frozen=True)
class Section:
    id: str
    label: str
    provider_name: str
    privacy_mode: str | None
    status: str | None
    fetched_at: str | None
    stale: bool
    error: str
    models: list[Entry]


def _merged(key: tuple[str, str], provider_id: str, rows: list[dict[str, Any]], fetched_at: str | None) -> list[Entry]:
    cached = _MERGED.get(key)
    if cached is not None:
        _MERGED.move_to_end(key)
        return cached
    merged = []
    for row in rows:
        info = ModelInfo(**{**row, "capabilities": frozenset(row.get("capabilities") or ())})
        item = facts.merge(info, provider_id, fetched_at)
        text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        merged.append(Entry(item["id"], f"{item['id']} {item['name'] or ''}".lower(), text[1:]))
    _MERGED[key] = merged
    if len(_MERGED) > _MERGED_LIMIT:
        _MERGED.popitem(last=False)
    return merged


def _premiere_section(model_ids: list[str]) -> Section:
    rows = [{"id": m, "source": "static"} for m in model_ids]
    models = _merged((PREMIERE, ",".join(model_ids)), PREMIERE, rows, None)
    return Section(PREMIERE, "Premiere Theater", "Premiere Theater", None, None, None, False, "", models)


async def _config_section(s: AsyncSession, row: ProviderConfig, max_age: timedelta) -> Section:
    fetched = row.models_fetched_at.isoformat() if row.models_fetched_at else None
    stale = row.models_fetched_at is not None and utcnow() - row.models_fetched_at > max_age
    key = (row.id, fetched or "")
    if key in _MERGED:
        models = _merged(key, row.provider_id, [], fetched)
    else:  # the list itself is only read from the database when this version is not merged yet
        rows = await s.scalar(select(ProviderConfig.models).where(ProviderConfig.id == row.id))
        models = _merged(key, row.provider_id, rows or [], fetched)
    return Section(row.id, row.label, get(row.provider_id).name, row.privacy_mode, row.status, fetched, stale,
                   row.models_error or "", models)


def _matches(entry: Entry, words: list[str]) -> bool:
    return all(word in entry.haystack for word in words)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def catalog_json(res: Resources, account_id: str, query: str = "") -> str:
    """The catalog as JSON text: ``{"query", "starred": [...], "sections": [{..., "models": [...]}]}``.

    Sections come Premiere first, then each config; models are filtered by ``query`` (every word
    must appear in the id or name) and starred ones come first. Rows are pre-encoded (``Entry``).
    """
    max_age = timedelta(hours=res.settings.model_list_max_age_hours)
    async with res.db() as s:
        rows = list(await s.scalars(select(ProviderConfig).where(ProviderConfig.account_id == account_id)
                                    .options(defer(ProviderConfig.models)).order_by(ProviderConfig.created_at)))
        stars = {(st.section, st.model_id) for st in await s.scalars(select(ModelStar).where(ModelStar.account_id == account_id))}
        sections = [_premiere_section(res.settings.premiere_models)] + [await _config_section(s, r, max_age) for r in rows]
    words = query.lower().split()
    out_sections, starred = [], []
    for section in sections:
        hits = [e for e in section.models if _matches(e, words)] if words else section.models
        head = f'"section":{_dump(section.id)},"section_label":{_dump(section.label)},'
        pinned = [f'{{"starred":true,{head}{e.tail}' for e in hits if (section.id, e.id) in stars]
        rest = [f'{{"starred":false,{head}{e.tail}' for e in hits if (section.id, e.id) not in stars]
        starred += pinned
        meta = {k: v for k, v in section.__dict__.items() if k != "models"} | {"total": len(section.models)}
        out_sections.append(_dump(meta)[:-1] + ',"models":[' + ",".join(pinned + rest) + "]}")
    await _refresh_stale(res, [r for r, sec in zip(rows, sections[1:], strict=True) if sec.stale and r.privacy_mode == "srv"])
    return f'{{"query":{_dump(query)},"starred":[{",".join(starred)}],"sections":[{",".join(out_sections)}]}}'


async def catalog(res: Resources, account_id: str, query: str = "") -> dict[str, Any]:
    """``catalog_json`` as Python data (for callers inside the process)."""
    data: dict[str, Any] = json.loads(await catalog_json(res, account_id, query))
    return data


async def _refresh_stale(res: Resources, rows: list[ProviderConfig]) -> None:
    for row in rows:
        # One refresh per config at a time, across replicas.
        if await res.cache.incr(f"refresh-models:{row.id}", ttl=300) == 1:
            await res.queue.enqueue("refresh_models", config_id=row.id)


async def refresh(res: Resources, config_id: str) -> None:
    """Fetch a Server-Accessible config's model list again; on failure keep the old list."""
    async with res.db() as s:
        row = await s.get(ProviderConfig, config_id, options=[defer(ProviderConfig.models)])
    if row is None or row.privacy_mode != "srv":
        return
    update: dict[str, Any]
    try:
        conn = connections.open_row(res.keyring, row, connections.ServerKey()).connection
        async with res.limits.outbound(row.account_id, row.dest_origin, deadline=res.limits.rules.refresh_deadline):
            models = await protocol_for(conn.provider.protocol).list_models(conn, res.http)
        update = {"models": model_rows(models), "models_fetched_at": utcnow(), "models_error": ""}
    except ProviderError as exc:
        update = {"models_error": explain(exc)}
    except Exception as exc:  # a refresh must never lose the list; say what happened
        log.warning("model list refresh of %s failed: %s", config_id, type(exc).__name__)
        update = {"models_error": "The model list could not be refreshed. Click Test Key to try again."}
    async with res.db.begin() as s:
        current = await s.get(ProviderConfig, config_id)
        if current is not None:
            for name, value in update.items():
                setattr(current, name, value)


async def set_star(db: Sessions, account_id: str, section: str, model_id: str, starred: bool) -> None:
    async with db.begin() as s:
        if section != PREMIERE:
            owned = await s.scalar(select(ProviderConfig.id).where(
                ProviderConfig.id == section, ProviderConfig.account_id == account_id))
            if owned is None:
                raise NotFound("No such provider config.")
        if not model_id or len(model_id) > 256:
            raise Invalid("Which model? Give its id.", field="model_id")
        existing = await s.get(ModelStar, (account_id, section, model_id))
        if starred and existing is None:
            s.add(ModelStar(account_id=account_id, section=section, model_id=model_id))
        elif not starred and existing is not None:
            await s.delete(existing)

