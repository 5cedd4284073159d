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
from collections.abc import AsyncIterator
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


@dataclass(frozen=True)
class _Loaded:
    sections: list[Section]
    stars: set[tuple[str, str]]


async def _load(res: Resources, account_id: str, section_id: str | None = None) -> _Loaded:
    """The sections (all, or the one asked for) with their merged rows, and the person's stars."""
    max_age = timedelta(hours=res.settings.model_list_max_age_hours)
    query = (select(ProviderConfig).where(ProviderConfig.account_id == account_id)
             .options(defer(ProviderConfig.models)).order_by(ProviderConfig.created_at))
    if section_id is not None:
        query = query.where(ProviderConfig.id == section_id)
    async with res.db() as s:
        rows = [] if section_id == PREMIERE else list(await s.scalars(query))
        if section_id not in (None, PREMIERE) and not rows:
            raise NotFound("No such provider config.")
        star_query = select(ModelStar).where(ModelStar.account_id == account_id)
        if section_id is not None:
            star_query = star_query.where(ModelStar.section == section_id)
        stars = {(st.section, st.model_id) for st in await s.scalars(star_query)}
        sections = [await _config_section(s, r, max_age) for r in rows]
    await _refresh_stale(res, [r for r, sec in zip(rows, sections, strict=True) if sec.stale and r.privacy_mode == "srv"])
    if section_id in (None, PREMIERE):
        sections.insert(0, _premiere_section(res.settings.premiere_models))
    return _Loaded(sections, stars)


def _rows(section: Section, hits: list[Entry], stars: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(starred rows, other rows) as JSON objects, the per-person fields prepended to each."""
    head = f'"section":{_dump(section.id)},"section_label":{_dump(section.label)},'
    pinned = [f'{{"starred":true,{head}{e.tail}' for e in hits if (section.id, e.id) in stars]
    rest = [f'{{"starred":false,{head}{e.tail}' for e in hits if (section.id, e.id) not in stars]
    return pinned, rest


def _meta(section: Section, matches: int) -> dict[str, Any]:
    return {k: v for k, v in section.__dict__.items() if k != "models"} | {"total": len(section.models),
                                                                          "matches": matches}


def _hits(section: Section, words: list[str]) -> list[Entry]:
    return [e for e in section.models if _matches(e, words)] if words else section.models


async def catalog_stream(res: Resources, account_id: str, query: str = "") -> AsyncIterator[str]:
    """The catalog as JSON text, one section at a time, never as one document in memory:
    ``{"query", "starred": [...], "sections": [{..., "total", "models": [...]}]}``.

    Sections come Premiere first, then each config; models are filtered by ``query`` (every word
    must appear in the id or name) and starred ones come first. Rows are pre-encoded (``Entry``).
    """
    loaded = await _load(res, account_id)
    words = query.lower().split()
    starred = [row for section in loaded.sections
               for row in _rows(section, [e for e in section.models if (section.id, e.id) in loaded.stars
                                          and _matches(e, words)], loaded.stars)[0]]
    return _stream(query, starred, loaded, words)


async def _stream(query: str, starred: list[str], loaded: _Loaded, words: list[str]) -> AsyncIterator[str]:
    yield f'{{"query":{_dump(query)},"starred":[{",".join(starred)}],"sections":['
    for index, section in enumerate(loaded.sections):
        hits = _hits(section, words)
        pinned, rest = _rows(section, hits, loaded.stars)
        rows = pinned + rest
        yield ("," if index else "") + _dump(_meta(section, len(hits)))[:-1] + ',"models":['
        for start in range(0, len(rows), 500):  # a few hundred rows per chunk
            yield ("," if start else "") + ",".join(rows[start:start + 500])
        yield "]}"
    yield "]}"


async def catalog_json(res: Resources, account_id: str, query: str = "") -> str:
    """``catalog_stream`` joined (for callers inside the process and tests)."""
    return "".join([part async for part in await catalog_stream(res, account_id, query)])


async def catalog(res: Resources, account_id: str, query: str = "") -> dict[str, Any]:
    """``catalog_json`` as Python data (for callers inside the process)."""
    data: dict[str, Any] = json.loads(await catalog_json(res, account_id, query))
    return data


async def section_index(res: Resources, account_id: str, query: str = "") -> str:
    """The light index: every section's details with ``total`` and ``matches`` but no model rows,
    plus the starred rows (they head every picker)."""
    loaded = await _load(res, account_id)
    words = query.lower().split()
    starred, metas = [], []
    for section in loaded.sections:
        hits = _hits(section, words)
        starred += _rows(section, [e for e in hits if (section.id, e.id) in loaded.stars], loaded.stars)[0]
        metas.append(_dump(_meta(section, len(hits))))
    return f'{{"query":{_dump(query)},"starred":[{",".join(starred)}],"sections":[{",".join(metas)}]}}'


async def section_page(res: Resources, account_id: str, section_id: str, query: str = "", offset: int = 0,
                       limit: int = 1000) -> str:
    """One section with one page of its (filtered, starred-first) rows:
    ``{..., "total", "matches", "offset", "limit", "models": [...]}``."""
    loaded = await _load(res, account_id, section_id)
    section = loaded.sections[0]
    hits = _hits(section, query.lower().split())
    pinned, rest = _rows(section, hits, loaded.stars)
    page = (pinned + rest)[offset:offset + limit]
    meta = _meta(section, len(hits)) | {"query": query, "offset": offset, "limit": limit}
    return _dump(meta)[:-1] + ',"models":[' + ",".join(page) + "]}"


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

